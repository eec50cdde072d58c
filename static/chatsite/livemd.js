// A live answer, formatted as it streams (the server side is chatsite/chat/rendering/live.py).
// Its text is parsed with markdown-it, the parser the server uses, with the same options, and
// drawn from the TOKENS as DOM nodes (createElement and text nodes: model text is never parsed
// as HTML here), the way the server's renderer and sanitiser would draw it. So when the answer
// ends the tab already shows what a reload shows, and the text crosses the wire once. Blocks
// the server renders otherwise (highlighted code, …) arrive as its sanitised HTML, by index.
(function () {
  "use strict";

  var md = window.markdownit
    ? window.markdownit("commonmark", { html: false, linkify: false, typographer: false })
        .enable(["table", "strikethrough"])
    : null;
  var NEWLINE = /\r\n?|\n/g;
  // What the server's sanitiser (nh3) keeps of the renderer's tags and attributes.
  var TAGS = /^(a|blockquote|br|code|em|h[1-6]|hr|li|ol|p|pre|s|strong|table|tbody|td|th|thead|tr|ul)$/;
  var ATTRS = { a: ["href", "title"], ol: ["start"], th: ["style"], td: ["style"] };
  var ALIGN = /^text-align:(left|center|right)$/;
  var SCHEME = /^([a-z][a-z0-9+.-]*):/i;
  var REL = "noopener noreferrer nofollow";
  var states = new WeakMap();
  var ended = {}; // id of an ended answer's element → its Markdown, for its "Copy" button

  function element(token) {
    var el = document.createElement(token.tag);
    (token.attrs || []).forEach(function (pair) {
      var name = pair[0], value = pair[1];
      if ((ATTRS[token.tag] || []).indexOf(name) < 0) return;
      if (name === "style" && !ALIGN.test(value)) return;
      var scheme = name === "href" && SCHEME.exec(value);
      if (scheme && !/^(https?|mailto)$/i.test(scheme[1])) return;
      el.setAttribute(name, value);
    });
    if (token.tag === "a") el.setAttribute("rel", REL);
    return el;
  }

  function code(token) {
    var pre = document.createElement("pre");
    var inner = pre.appendChild(document.createElement("code"));
    var lang = token.type === "fence" ? md.utils.unescapeAll(token.info).trim().split(/\s+/)[0] : "";
    if (lang) inner.className = "language-" + lang;
    inner.textContent = token.content;
    return pre;
  }

  function inline(children, parent) {
    var stack = [parent];
    children.forEach(function (t) {
      var top = stack[stack.length - 1];
      if (t.type === "text") top.append(t.content);
      else if (t.type === "softbreak") top.append("\n");
      else if (t.type === "hardbreak") top.append(document.createElement("br"), "\n");
      else if (t.type === "code_inline") top.appendChild(document.createElement("code")).textContent = t.content;
      else if (t.nesting === 1 && TAGS.test(t.tag)) stack.push(top.appendChild(element(t)));
      else if (t.nesting === -1 && TAGS.test(t.tag) && stack.length > 1) stack.pop();
      // images: the sanitiser drops <img>; the server sends what the page shows instead
    });
  }

  // markdown-it's renderToken, newlines included, building nodes instead of a string.
  function blocks(tokens, parent) {
    var stack = [parent];
    tokens.forEach(function (t, i) {
      var top = stack[stack.length - 1];
      if (t.type === "inline") { inline(t.children || [], top); return; }
      if (t.type === "fence" || t.type === "code_block") { top.append(code(t), "\n"); return; }
      if (t.hidden || !TAGS.test(t.tag)) return; // a tight list's paragraphs
      if (t.nesting !== -1 && i && tokens[i - 1].hidden) top.append("\n");
      var next = tokens[i + 1];
      var newline = t.nesting !== 1 || !next ||
        !(next.type === "inline" || next.hidden || (next.nesting === -1 && next.tag === t.tag));
      if (t.nesting === -1) {
        if (stack.length > 1) stack.pop();
        if (newline) stack[stack.length - 1].append("\n");
      } else {
        var el = top.appendChild(element(t));
        if (t.nesting === 1) stack.push(el);
        if (newline) (t.nesting === 1 ? el : top).append("\n");
      }
    });
  }

  function serverHTML(html) {
    var template = document.createElement("template");
    template.innerHTML = html; // sanitised by the server (nh3), never model text as such
    return Array.prototype.slice.call(template.content.childNodes);
  }

  function lineStarts(text) {
    var starts = [0], m;
    NEWLINE.lastIndex = 0;
    while ((m = NEWLINE.exec(text))) starts.push(m.index + m[0].length);
    return starts;
  }

  // Top-level blocks as [first token, last token + 1].
  function topLevel(tokens) {
    var out = [], start = 0;
    tokens.forEach(function (t, i) {
      if (t.level !== 0) return;
      if (t.nesting === 1) start = i;
      else if (t.nesting === -1) out.push([start, i + 1]);
      else out.push([i, i + 1]);
    });
    return out;
  }

  // The markers a block's text opened and has not closed yet, innermost first.
  function unclosed(text) {
    var out = "";
    if ((text.match(/`+/g) || []).length % 2) out += "`";
    if (out) return out; // inside inline code, the rest is code
    if ((text.match(/~~/g) || []).length % 2) out += "~~";
    if ((text.match(/\*\*/g) || []).length % 2) out += "**";
    return out;
  }

  function State(el) {
    this.el = el;
    this.text = el.textContent; // a shell, or a snapshot, holds the text so far
    this.start = 0;             // where the first unfinished block begins
    this.done = [];             // the nodes of each complete block
    this.open = [];             // the nodes of the unfinished one
    this.html = {};             // block index → the server's HTML for it
    el.textContent = "";
  }

  State.prototype.nodes = function (index, tokens) {
    if (this.html[index] !== undefined) return serverHTML(this.html[index]);
    var box = document.createDocumentFragment();
    blocks(tokens, box);
    return Array.prototype.slice.call(box.childNodes);
  };

  State.prototype.render = function (final) {
    this.open.forEach(function (node) { node.remove(); });
    this.open = [];
    var source = this.text.slice(this.start);
    if (!source) return;
    var tokens = md.parse(source, {});
    var groups = topLevel(tokens);
    if (!final && groups.length) {
      // The unfinished block shows a half-written `**bold` already bold: close what it opened,
      // for this drawing only (its final form comes with the rest of its text).
      var first = tokens[groups[groups.length - 1][0]];
      var end = source.replace(/\s+$/, "").length;
      var closers = first.type === "fence" || first.type === "code_block" ? ""
        : unclosed(source.slice(lineStarts(source)[first.map[0]], end));
      if (closers) {
        var closed = md.parse(source.slice(0, end) + closers + source.slice(end), {});
        var closedGroups = topLevel(closed);
        if (closedGroups.length === groups.length) { tokens = closed; groups = closedGroups; }
      }
    }
    var self = this;
    groups.forEach(function (g, n) {
      var nodes = self.nodes(self.done.length, tokens.slice(g[0], g[1]));
      self.el.append.apply(self.el, nodes);
      if (final || n < groups.length - 1) self.done.push(nodes);
      else self.open = nodes;
    });
    if (final) this.start = this.text.length;
    else if (groups.length > 1) this.start += lineStarts(source)[tokens[groups[groups.length - 1][0]].map[0]];
  };

  function state(el) {
    var found = states.get(el);
    if (!found && md) {
      found = new State(el);
      states.set(el, found);
      found.render(false);
    }
    return found;
  }

  window.chatsiteLive = {
    // Text for a live element: formatted, or (without markdown-it) as plain text.
    append: function (el, text) {
      var s = state(el);
      if (!s) { el.append(text); return; }
      s.text += text;
      s.render(false);
    },
    // The server's HTML for block `index` of a live answer.
    block: function (el, index, html) {
      var s = state(el);
      if (!s) return;
      s.html[index] = html;
      var old = s.done[index];
      if (!old) { s.render(false); return; }
      var nodes = serverHTML(html);
      nodes.forEach(function (node) { el.insertBefore(node, old[0]); });
      old.forEach(function (node) { node.remove(); });
      s.done[index] = nodes;
    },
    // The answer ended: its element takes the form the page gives it.
    end: function (el) {
      var s = state(el);
      if (s) s.render(true);
      ended[el.id] = s ? s.text : el.textContent;
      var step = el.closest(".step");
      if (step) step.classList.remove("is-live");
      el.removeAttribute("id");
      el.className = "md";
      el.setAttribute("dir", "auto");
    },
    // The Markdown of an answer that ended in this tab (its element's former id).
    text: function (id) { return ended[id]; },
    // Live answers drawn by the server (a shell, a snapshot, a page) start formatted.
    scan: function (root) {
      (root.querySelectorAll ? root : document).querySelectorAll(".stream-text").forEach(state);
      if (root.classList && root.classList.contains("stream-text")) state(root);
    },
  };
})();
