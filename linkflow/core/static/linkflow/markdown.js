// A small Markdown subset for sticky notes, built with the DOM (text is only ever set as
// textContent, so HTML in a note shows as text and cannot run):
//   # / ## / ### headings, paragraphs, "- " or "* " lists, "1. " lists, blank-line
//   separated blocks, **bold**, *italic* / _italic_, `code`, and [text](url) links where
//   url is http(s):// or mailto: (anything else stays text).
// LinkflowMarkdown.render(text) -> DocumentFragment.
(function () {
  "use strict";

  var INLINE = /(\*\*([^*]+)\*\*)|(`([^`]+)`)|(\*([^*]+)\*)|(_([^_]+)_)|(\[([^\]]+)\]\(([^)\s]+)\))/;
  var SAFE_URL = /^(https?:\/\/|mailto:)/i;

  function inline(parent, text) {
    while (text) {
      var match = INLINE.exec(text);
      if (!match) { parent.appendChild(document.createTextNode(text)); return; }
      if (match.index) parent.appendChild(document.createTextNode(text.slice(0, match.index)));
      var node;
      if (match[1]) { node = document.createElement("strong"); inline(node, match[2]); }
      else if (match[3]) { node = document.createElement("code"); node.textContent = match[4]; }
      else if (match[5]) { node = document.createElement("em"); inline(node, match[6]); }
      else if (match[7]) { node = document.createElement("em"); inline(node, match[8]); }
      else if (SAFE_URL.test(match[11])) {
        node = document.createElement("a");
        node.href = match[11];
        node.target = "_blank";
        node.rel = "noopener noreferrer";
        node.textContent = match[10];
      } else node = document.createTextNode(match[0]);
      parent.appendChild(node);
      text = text.slice(match.index + match[0].length);
    }
  }

  function render(source) {
    var out = document.createDocumentFragment();
    var list = null, paragraph = null;
    String(source || "").split(/\r?\n/).forEach(function (line) {
      var heading = /^(#{1,3})\s+(.*)$/.exec(line);
      var bullet = /^\s*[-*]\s+(.*)$/.exec(line);
      var numbered = /^\s*\d+[.)]\s+(.*)$/.exec(line);
      if (!line.trim()) { list = null; paragraph = null; return; }
      if (heading) {
        list = null; paragraph = null;
        var h = document.createElement("h" + (heading[1].length + 2));
        inline(h, heading[2]);
        out.appendChild(h);
      } else if (bullet || numbered) {
        paragraph = null;
        var tag = bullet ? "ul" : "ol";
        if (!list || list.tagName.toLowerCase() !== tag) { list = document.createElement(tag); out.appendChild(list); }
        var item = document.createElement("li");
        inline(item, (bullet || numbered)[1]);
        list.appendChild(item);
      } else {
        list = null;
        if (paragraph) paragraph.appendChild(document.createElement("br"));
        else { paragraph = document.createElement("p"); out.appendChild(paragraph); }
        inline(paragraph, line);
      }
    });
    return out;
  }

  window.LinkflowMarkdown = { render: render };
})();
