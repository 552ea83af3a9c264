-- Neovim's built-in LSP client against `comp lsp` (tests/nvim.rs runs this headless).
--
--   COMP_BIN=target/debug/comp COMP_FILE=x.comp COMP_OUT=out.txt COMP_HOVER=1:20 \
--     nvim --headless --clean -i NONE -u tests/nvim/diagnostics.lua
--
-- Opens COMP_FILE, attaches a client running `COMP_BIN lsp`, waits for the diagnostics, asks
-- for a hover at COMP_HOVER, and writes to COMP_OUT one line per diagnostic,
-- `LINE:COL CODE FIRST-LINE-OF-MESSAGE` (0-based line, byte column as Neovim indexes its
-- buffer), then `hover: FIRST-LINE`. Works with Neovim 0.7 (Debian 12) and later.

local out = assert(io.open(os.getenv("COMP_OUT"), "w"))
local function finish(code)
  out:close()
  vim.cmd((code == 0) and "qall!" or "cquit! " .. code)
end

vim.cmd("edit " .. vim.fn.fnameescape(os.getenv("COMP_FILE")))
local client = vim.lsp.start_client({
  name = "comp",
  cmd = { os.getenv("COMP_BIN"), "lsp" },
  root_dir = vim.fn.getcwd(),
})
if not client then
  out:write("error: the client did not start\n")
  return finish(2)
end
vim.lsp.buf_attach_client(0, client)

local arrived = vim.wait(30000, function() return #vim.diagnostic.get(0) > 0 end, 20)
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

-- Hover at COMP_HOVER ("LINE:CHARACTER", an LSP position).
local line, character = os.getenv("COMP_HOVER"):match("(%d+):(%d+)")
local replies = vim.lsp.buf_request_sync(0, "textDocument/hover", {
  textDocument = { uri = vim.uri_from_bufnr(0) },
  position = { line = tonumber(line), character = tonumber(character) },
}, 10000)
local text = "none"
for _, reply in pairs(replies or {}) do
  if reply.result and reply.result.contents then
    text = (reply.result.contents.value or ""):gsub("\n.*", "")
  end
end
out:write("hover: " .. text .. "\n")
finish(0)
