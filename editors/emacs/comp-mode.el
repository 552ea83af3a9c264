;;; comp-mode.el --- Major mode for .comp composition scripts -*- lexical-binding: t -*-

;; Version: 0.1.0
;; Package-Requires: ((emacs "27.1"))
;; Keywords: languages
;; SPDX-License-Identifier: MIT OR Apache-2.0

;;; Commentary:

;; A major mode for the `.comp' language (docs/language.md): highlighting of keywords,
;; settings, constants, numbers, strings and comments (`#' to the end of the line), and the
;; language server `comp lsp' registered with eglot when eglot is loaded.
;;
;;   (add-to-list 'load-path "/path/to/comp/editors/emacs")
;;   (require 'comp-mode)
;;   (add-hook 'comp-mode-hook #'eglot-ensure)   ; diagnostics, hover, completion, ...
;;
;; The keyword lists are the TextMate grammar's (editors/vscode/syntaxes/comp.tmLanguage.json)
;; and the REPL's (src/repl/editor.rs): keep them together.

;;; Code:

(defgroup comp nil
  "The .comp composition language."
  :group 'languages
  :prefix "comp-")

(defcustom comp-lsp-command '("comp" "lsp")
  "The command that starts the language server (a list: program and arguments)."
  :type '(repeat string)
  :group 'comp)

(defconst comp-keywords '("AND" "OR" "NOT" "let" "sample" "with")
  "The words of the language's grammar.")

(defconst comp-constants '("none" "null" "true" "false")
  "The language's constants.")

(defconst comp-settings '("model" "sampler" "mcmc" "base" "scale" "seed" "samples" "size" "dtype")
  "The settings a statement may start with.")

(defconst comp--name "[A-Za-z_][A-Za-z0-9_-]*"
  "A name: a letter or `_', then letters, digits, `_' or `-'.")

(defun comp--words (words)
  "A regexp matching one of WORDS as a whole name (`AND-x' is a name, not `AND')."
  (concat "\\_<" (regexp-opt words t) "\\_>"))

(defconst comp-font-lock-keywords
  `((,(concat "\\_<\\(let\\|sample\\)[ \t]+\\(" comp--name "\\)")
     (1 font-lock-keyword-face) (2 font-lock-variable-name-face))
    (,(concat "^[ \t]*" (comp--words comp-settings) "[ \t]") 1 font-lock-builtin-face)
    (,(concat "\\_<with[ \t]+" (comp--words comp-settings)) 1 font-lock-builtin-face)
    (,(concat ",[ \t]*" (comp--words comp-settings) "[ \t]") 1 font-lock-builtin-face)
    (,(comp--words comp-keywords) . font-lock-keyword-face)
    (,(comp--words comp-constants) . font-lock-constant-face)
    (,(concat "\\(" comp--name "\\)[ \t]*(") 1 font-lock-function-name-face)
    (,(concat "\\(" comp--name "\\)[ \t]*:") 1 font-lock-type-face)
    ("\\_<[0-9]+x[0-9]+\\_>" . font-lock-constant-face)
    ("\\(?:^\\|[^A-Za-z0-9_.-]\\)\\([-+]?\\(?:[0-9]+\\.?[0-9]*\\|\\.[0-9]+\\)\\(?:[eE][-+]?[0-9]+\\)?\\)"
     1 font-lock-constant-face))
  "Highlighting for `comp-mode'.")

(defvar comp-mode-syntax-table
  (let ((table (make-syntax-table)))
    (modify-syntax-entry ?# "<" table)
    (modify-syntax-entry ?\n ">" table)
    (modify-syntax-entry ?\" "\"" table)
    (modify-syntax-entry ?\\ "\\" table)
    ;; Names hold `_' and `-': symbol constituents, so `\\_<' and `\\_>' see whole names.
    (modify-syntax-entry ?_ "_" table)
    (modify-syntax-entry ?- "_" table)
    (modify-syntax-entry ?* "." table)
    (modify-syntax-entry ?@ "." table)
    (modify-syntax-entry ?= "." table)
    table)
  "Syntax table for `comp-mode': `#' comments, double-quoted strings.")

(defun comp--string-ends-at-line-end (start end)
  "Make each unterminated string between START and END end at its line's end.
The parser ends a string there, so highlighting does too: the opening quote and the
newline become string fences."
  (goto-char start)
  (while (re-search-forward "\"" end t)
    (let ((open (1- (point))))
      (unless (let ((ppss (save-excursion (syntax-ppss open)))) (or (nth 3 ppss) (nth 4 ppss)))
        (if (looking-at "\\(?:[^\"\\\\\n]\\|\\\\.\\)*\"")
            (goto-char (match-end 0))
          (put-text-property open (1+ open) 'syntax-table (string-to-syntax "|"))
          (end-of-line)
          (when (< (point) (point-max))
            (put-text-property (point) (1+ (point)) 'syntax-table (string-to-syntax "|"))))))))

;;;###autoload
(define-derived-mode comp-mode prog-mode "comp"
  "Major mode for .comp composition scripts.
Diagnostics, hover, completion, navigation, formatting and quick fixes come
from the language server `comp lsp': run \\[eglot] (registered for this mode)."
  :syntax-table comp-mode-syntax-table
  (setq-local comment-start "# ")
  (setq-local comment-start-skip "#+[ \t]*")
  (setq-local comment-end "")
  (setq-local syntax-propertize-function #'comp--string-ends-at-line-end)
  (setq-local font-lock-defaults '(comp-font-lock-keywords)))

;;;###autoload
(add-to-list 'auto-mode-alist '("\\.comp\\'" . comp-mode))

(with-eval-after-load 'eglot
  (defvar eglot-server-programs)
  (add-to-list 'eglot-server-programs (cons 'comp-mode (lambda (&rest _) comp-lsp-command))))

(provide 'comp-mode)

;;; comp-mode.el ends here
