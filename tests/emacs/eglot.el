;;; eglot.el --- Emacs with editors/emacs/comp-mode.el and eglot against `comp lsp' -*- lexical-binding: t -*-

;; tests/emacs.rs runs this as
;;
;;   COMP_BIN=target/debug/comp COMP_FILE=x.comp COMP_OUT=out.txt \
;;     emacs --batch -Q -l tests/emacs/eglot.el
;;
;; Visits COMP_FILE (so `auto-mode-alist' picks the mode), checks the faces of a few words,
;; starts eglot as `M-x eglot' would (the contact from `eglot-server-programs'), waits for the
;; diagnostics flymake shows, asks for a hover and a completion, and writes one line per
;; finding to COMP_OUT. Works with Emacs 28 + elpa-eglot (Debian 12) and Emacs 29's own eglot.

(setq load-prefer-newer t)
;; This file is ROOT/tests/emacs/eglot.el; the mode is ROOT/editors/emacs/comp-mode.el.
(add-to-list 'load-path (expand-file-name "../../editors/emacs" (file-name-directory load-file-name)))
;; Debian's elpa-eglot lives in the site-lisp load path set by `package-initialize' or the
;; site start file; -Q skips both, so look there too.
(dolist (dir (file-expand-wildcards "/usr/share/emacs/site-lisp/elpa/*"))
  (add-to-list 'load-path dir))

(require 'comp-mode)
(require 'eglot)
(require 'flymake)

(defvar comp-test-out (getenv "COMP_OUT"))
(defun comp-test-write (fmt &rest args)
  (append-to-file (concat (apply #'format fmt args) "\n") nil comp-test-out))
(defun comp-test-finish (status)
  (ignore-errors (eglot-shutdown (eglot-current-server)))
  (kill-emacs status))

(setq eglot-sync-connect 30
      eglot-connect-timeout 60
      eglot-autoshutdown t
      ;; Keep the LSP event log: a failure then shows what was said.
      eglot-events-buffer-size 200000)
(setq comp-lsp-command (list (getenv "COMP_BIN") "lsp"))

(find-file (getenv "COMP_FILE"))
(comp-test-write "mode: %s" major-mode)
(font-lock-ensure)
;; Each (TEXT . OFFSET): the face at OFFSET into the first TEXT.
(dolist (probe '(("model" . 0) (" AND " . 1) ("AND-x =" . 0) ("# a comment" . 0) ("512x768" . 0) ("pos(" . 0)))
  (goto-char (point-min))
  (when (search-forward (car probe) nil t)
    (let ((face (get-text-property (+ (match-beginning 0) (cdr probe)) 'face)))
      (comp-test-write "face %s: %s" (string-trim (car probe)) face))))

(condition-case err
    (apply #'eglot (eglot--guess-contact))
  (error (comp-test-write "error: eglot did not start: %S" err) (comp-test-finish 2)))
(flymake-start)

(let ((tries 0))
  (while (and (null (flymake-diagnostics)) (< tries 600))
    (accept-process-output nil 0.1)
    (when (zerop (mod tries 10)) (flymake-start))
    (setq tries (1+ tries))))
(let ((diags (sort (flymake-diagnostics) (lambda (a b) (< (flymake-diagnostic-beg a) (flymake-diagnostic-beg b))))))
  (unless diags
    (comp-test-write "error: no diagnostics within 60 s")
    (comp-test-finish 3))
  (dolist (d diags)
    (let ((beg (flymake-diagnostic-beg d)))
      (comp-test-write "%d:%d %s"
                       (1- (line-number-at-pos beg))
                       (save-excursion (goto-char beg) (current-column))
                       (car (split-string (flymake-diagnostic-text d) "\n"))))))

;; Hover on the first `pos', through eglot's own request.
(goto-char (point-min))
(search-forward "pos(")
(backward-char 2)
(let* ((hover (jsonrpc-request (eglot-current-server) :textDocument/hover (eglot--TextDocumentPositionParams)))
       (contents (plist-get hover :contents))
       (value (if (stringp contents) contents (plist-get contents :value))))
  (comp-test-write "hover: %s" (car (split-string (or value "none") "\n"))))

;; Completion after the last ` p' (`pos' is a constructor): eglot 1.9 announces no snippet
;; support (without yasnippet), so the server must not send a snippet.
(goto-char (point-max))
(search-backward " p")
(forward-char 2)
(let* ((items (jsonrpc-request (eglot-current-server) :textDocument/completion (eglot--TextDocumentPositionParams)))
       (items (if (vectorp items) items (plist-get items :items)))
       (pos (seq-find (lambda (i) (equal (plist-get i :label) "pos")) items)))
  (comp-test-write "completion pos: %s"
                   (if pos (plist-get (plist-get pos :textEdit) :newText) "none")))
(comp-test-finish 0)
