-- Quarto-style cross-references (@fig-*, @tbl-*, @sec-*) for plain Pandoc.
-- Used only when Quarto is not installed (src/medal/report/paper.py).
--   Typst output: a reference becomes a native Typst reference, which Typst numbers itself.
--   Other output: figures and tables get "Figure N:"/"Table N:" caption prefixes, and a
--   reference becomes a link "Figure N", "Table N" or "Section N".
-- A reference whose prefix is fig-, tbl- or sec- but whose target does not exist is an error.
-- Metadata crossref-number-prefix (the supplement's "S") goes before every figure and table number.

local PREFIXES = { fig = "Figure", tbl = "Table", sec = "Section" }
local numbers = {}

local function kind_of(id)
  local prefix = id:match("^(%a+)%-")
  return prefix and PREFIXES[prefix] and prefix or nil
end

local function caption_prefix(caption, text)
  local long = caption.long
  if #long > 0 and long[1].t == "Plain" or #long > 0 and long[1].t == "Para" then
    long[1].content:insert(1, pandoc.Space())
    long[1].content:insert(1, pandoc.Str(text .. ":"))
  end
  return caption
end

local function number_document(doc)
  local counters = { fig = 0, tbl = 0 }
  local prefix = doc.meta["crossref-number-prefix"] and pandoc.utils.stringify(doc.meta["crossref-number-prefix"]) or ""
  local sections = {}
  local is_typst = FORMAT:match("typst")
  local function visit(block)
    if block.t == "Header" and not block.classes:includes("unnumbered") then
      sections[block.level] = (sections[block.level] or 0) + 1
      for level = block.level + 1, 6 do sections[level] = nil end
      local parts = {}
      for level = 1, block.level do parts[#parts + 1] = tostring(sections[level] or 0) end
      if block.identifier ~= "" then numbers[block.identifier] = table.concat(parts, ".") end
    elseif (block.t == "Figure" or block.t == "Table") and kind_of(block.identifier) then
      local kind = kind_of(block.identifier)
      counters[kind] = counters[kind] + 1
      numbers[block.identifier] = prefix .. tostring(counters[kind])
      if not is_typst then caption_prefix(block.caption, PREFIXES[kind] .. " " .. numbers[block.identifier]) end
    end
  end
  for _, block in ipairs(doc.blocks) do visit(block) end
  return doc
end

local function reference(id)
  if not numbers[id] then
    error("unresolved cross-reference @" .. id .. ": no figure, table or section has that id")
  end
  if FORMAT:match("typst") then
    return pandoc.RawInline("typst", "@" .. id)
  end
  return pandoc.Link(PREFIXES[kind_of(id)] .. " " .. numbers[id], "#" .. id)
end

-- A Cite may mix cross-references and bibliography keys ("@fig-a [@key]" parses as one Cite):
-- cross-references become references, the remaining keys stay a citation.
local function resolve(cite)
  local has_reference = false
  for _, citation in ipairs(cite.citations) do
    if kind_of(citation.id) then has_reference = true end
  end
  if not has_reference then return nil end
  local result = pandoc.List()
  local remaining = pandoc.List()
  for _, citation in ipairs(cite.citations) do
    if kind_of(citation.id) then
      result:insert(reference(citation.id))
      result:extend(citation.suffix)
    else
      citation.mode = "NormalCitation"
      remaining:insert(citation)
    end
  end
  if #remaining > 0 then
    result:insert(pandoc.Space())
    result:insert(pandoc.Cite({}, remaining))
  end
  return result
end

-- Typst prints its own bibliography heading: give it the title of the references section instead
-- of printing that heading twice.
local function references_heading(header)
  if FORMAT:match("typst") and header.identifier == "sec-references" then
    return pandoc.RawBlock("typst", "#set bibliography(title: [" .. pandoc.utils.stringify(header) .. "])")
  end
end

-- Pandoc's HTML template prints each author as plain text: turn Quarto-style author records
-- (name, affiliation, email) into "name, affiliation".
local function plain_authors(meta)
  if FORMAT:match("typst") or not meta.author then return meta end
  local authors = pandoc.List()
  for _, author in ipairs(meta.author) do
    if type(author) == "table" and author.name then
      local parts = { pandoc.utils.stringify(author.name) }
      if author.affiliation then parts[#parts + 1] = pandoc.utils.stringify(author.affiliation) end
      authors:insert(pandoc.MetaInlines({ pandoc.Str(table.concat(parts, ", ")) }))
    else
      authors:insert(author)
    end
  end
  meta.author = authors
  return meta
end

-- Pandoc's Typst template inserts keywords unquoted into a Typst array; quote them.
local function typst_keywords(meta)
  if FORMAT:match("typst") and meta.keywords then
    local quoted = pandoc.List()
    for _, keyword in ipairs(meta.keywords) do
      local text = pandoc.utils.stringify(keyword):gsub('\\', '\\\\'):gsub('"', '\\"')
      quoted:insert(pandoc.MetaInlines({ pandoc.RawInline("typst", '"' .. text .. '"') }))
    end
    meta.keywords = quoted
  end
  return meta
end

return {
  { Meta = function(meta) return typst_keywords(plain_authors(meta)) end },
  { Pandoc = number_document },
  { Cite = resolve, Header = references_heading },
}
