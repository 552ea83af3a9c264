-- Checks an editor session of Neovim set up by the docs' snippet (tests/nvim.rs writes an
-- init.lua of the snippet from docs/editors.md, then `dofile`s this on VimEnter, after
-- Neovim has read the file given on its command line, as a user's `nvim x.comp`).
--
-- Writes to COMP_OUT: the buffer's `filetype` and `omnifunc` (what the snippet must set), one
-- line per diagnostic, `LINE:COL CODE FIRST-LINE-OF-MESSAGE` (0-based line, byte column as
-- Neovim indexes its buffer), then `hover: FIRST-LINE` for the hover at COMP_HOVER, then
-- `complete: LABELS` for the completion at COMP_COMPLETE. Works with Neovim 0.7 (Debian 12)
-- and later.

local out = assert(io.open(os.getenv("COMP_OUT"), "w"))
local function finish(code)
  out:close()
  vim.cmd((code == 0) and "qall!" or "cquit! " .. code)
end

out:write("filetype: " .. vim.bo.filetype .. "\n")
local arrived = vim.wait(30000, function() return #vim.diagnostic.get(0) > 0 end, 20)
out:write("omnifunc: " .. vim.bo.omnifunc .. "\n")
if not arrived then
  out:write("error: no diagnostics within 30 s\n")
  return finish(3)
end

local diagnostics = vim.diagnostic.get(0)
table.sort(diagnostics, function(a, b) return a.lnum < b.lnum or (a.lnum == b.lnum and a.col < b.col) end)
for _, d in ipairs(diagnostics) do
  local code = d.code or (d.user_data and d.user_data.lsp and d.user_data.lsp.code) or "?"
  out:write(string.format("%d:%d %s %s\n", d.lnum, d.col, code, (d.message:gsub("\n.*", ""))))
end

local function position(var)
  local line, character = os.getenv(var):match("(%d+):(%d+)")
  return { textDocument = { uri = vim.uri_from_bufnr(0) }, position = { line = tonumber(line), character = tonumber(character) } }
end

local text = "none"
for _, reply in pairs(vim.lsp.buf_request_sync(0, "textDocument/hover", position("COMP_HOVER"), 10000) or {}) do
  if reply.result and reply.result.contents then
    text = (reply.result.contents.value or ""):gsub("\n.*", "")
  end
end
out:write("hover: " .. text .. "\n")

local labels = {}
for _, reply in pairs(vim.lsp.buf_request_sync(0, "textDocument/completion", position("COMP_COMPLETE"), 10000) or {}) do
  local items = reply.result and (reply.result.items or reply.result) or {}
  for _, item in ipairs(items) do
    table.insert(labels, item.label)
  end
end
out:write("complete: " .. table.concat(labels, " ") .. "\n")
finish(0)
