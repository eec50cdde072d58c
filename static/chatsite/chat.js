// chatsite's page behaviour: small on purpose. htmx swaps HTML; this file handles the compact
// frames (live text, status changes), resume on (re)connect, the keyboard and scrolling.
(function () {
  "use strict";

  var FINAL = ["completed", "incomplete", "failed", "cancelled", "budget_exceeded"];

  // Show validation errors (422) and conflicts (409) in the page instead of ignoring them.
  htmx.config.responseHandling = [
    { code: "204", swap: false },
    { code: "[23]..", swap: true },
    { code: "409|422|429", swap: true, error: false },
    { code: "[45]..", swap: false, error: true },
  ];

  function main() { return document.getElementById("main"); }
  function transcript() { return document.getElementById("transcript"); }

  function isFinal(status) { return FINAL.indexOf(status) >= 0; }

  function unfinishedTurns() {
    var root = main();
    if (!root) return [];
    return Array.prototype.filter.call(
      root.querySelectorAll("[data-role=assistant]"),
      function (el) { return !isFinal(el.dataset.status); }
    );
  }

  // The Stop button shows (and Send hides) while any reply is still being written.
  function refreshBusy() {
    var root = main();
    if (!root) return;
    var busy = unfinishedTurns().some(function (el) { return el.dataset.status !== "requires_action"; });
    root.classList.toggle("is-streaming", busy);
  }

  // Follow the reply as it grows, unless the reader has scrolled up to read something.
  var stickToBottom = true;
  function nearBottom(el) { return el.scrollHeight - el.scrollTop - el.clientHeight < 80; }
  document.addEventListener("scroll", function (e) {
    if (e.target === transcript()) stickToBottom = nearBottom(e.target);
  }, true);
  function follow() {
    var el = transcript();
    if (el && stickToBottom) el.scrollTop = el.scrollHeight;
  }

  // A turn too large for one socket frame comes as {"load": [[turn id, url], ...]}: fetch it
  // over HTTP in its place (appended when this tab does not show it yet). One fetch per turn
  // at a time; asked again meanwhile, or drawn before the reply ended, it loads once more.
  var loaded = {};
  var ended = {};
  var loading = {};
  var loads = {};
  function loadTurn(id, url) {
    loaded[id] = url;
    if (loading[id]) { loading[id] = "again"; return; }
    loads[id] = (loads[id] || 0) + 1;
    if (loads[id] > 20) return; // the server keeps failing: a reload will show it
    loading[id] = true;
    var el = document.getElementById("turn-" + id);
    var added = !el;
    if (!el) {
      el = document.createElement("article");
      el.className = "turn";
      el.id = "turn-" + id;
      el.dataset.turnId = id;
      transcript().appendChild(el);
    }
    function done() {
      var again = loading[id] === "again";
      loading[id] = false;
      var part = document.getElementById("a-" + id);
      var drawn = document.getElementById("turn-" + id);
      if (added && drawn && drawn.dataset.parent !== undefined) {
        added = false; // a new version, drawn: it takes the place of the one on screen
        makeRoom(String(id), drawn.dataset.parent);
      }
      if (again || (ended[id] && part && !isFinal(part.dataset.status))) loadTurn(id, url);
      refreshBusy();
    }
    chatsiteAjax("GET", url, { target: el, swap: "outerHTML" }).then(done, done);
  }

  function applyFrame(frame) {
    if (frame.load) {
      for (var j = 0; j < frame.load.length; j++) loadTurn(frame.load[j][0], frame.load[j][1]);
    }
    if (frame.turn) addTurn(frame.turn);
    if (frame.meta && frame.status) finishMeta(frame.status[0], frame.meta);
    if (frame.status) {
      var part = document.getElementById("a-" + frame.status[0]);
      if (part) part.dataset.status = frame.status[1];
      if (isFinal(frame.status[1])) {
        ended[frame.status[0]] = true;
        if (loaded[frame.status[0]]) loadTurn(frame.status[0], loaded[frame.status[0]]);
      }
    }
    if (frame.top && window.chatsiteSidebar) window.chatsiteSidebar.top(frame.top);
    if (frame.error) {
      var box = document.getElementById("composer-error");
      if (box) box.textContent = frame.error;
    }
    // The answer to a message this tab sent on the socket (composer.js).
    if (frame.sent || frame["for"]) {
      document.dispatchEvent(new CustomEvent("chatsite:sent", {
        detail: { id: frame.sent || frame["for"], saved: !!frame.sent },
      }));
    }
  }

  // A completed answer's meta line comes as a small frame (its tokens and the live element
  // holding its words) and is drawn from the page's answer-actions template: the partial the
  // server draws finished turns with, for turn 0.
  function finishMeta(id, meta) {
    var line = document.getElementById("meta-" + id);
    var template = document.getElementById("answer-actions");
    if (!line || !template || line.dataset.turnStatus === "completed") return;
    var model = line.querySelector("[data-model]");
    var parts = template.content.cloneNode(true);
    parts.querySelectorAll("[hx-post], [hx-get]").forEach(function (el) {
      ["hx-post", "hx-get"].forEach(function (name) {
        var url = el.getAttribute(name);
        if (url) el.setAttribute(name, url.replace("/turns/0/", "/turns/" + id + "/"));
      });
    });
    var copy = parts.querySelector(".copy-answer");
    if (copy) copy.dataset.sourceFrom = meta.source;
    var usage = parts.querySelector(".usage");
    if (usage && meta.tokens) usage.textContent = meta.tokens;
    else if (usage) usage.remove();
    var named = parts.querySelector("[data-model]");
    if (named && model) named.textContent = model.textContent;
    line.replaceChildren(parts);
    line.dataset.turnStatus = "completed";
    htmx.process(line);
    fillSources(line);
  }

  // A new turn of words only comes as [id, parent, words, model] and is drawn from the page's
  // new-turn template: the partial the server draws turns with, for turn 0.
  function addTurn(t) {
    var id = String(t[0]);
    var template = document.getElementById("new-turn");
    var box = transcript();
    if (!template || !box || document.getElementById("turn-" + id)) return;
    var parts = template.content.cloneNode(true);
    var article = parts.querySelector("article");
    article.id = "turn-" + id;
    article.dataset.turnId = id;
    article.dataset.parent = String(t[1]);
    ["a-", "steps-", "meta-"].forEach(function (prefix) {
      var el = parts.getElementById(prefix + "0");
      if (el) el.id = prefix + id;
    });
    parts.querySelector(".user-text").textContent = t[2]; // the person's words, as text
    var edit = parts.querySelector("[data-edit]");
    if (edit) edit.dataset.edit = edit.dataset.edit.replace("/turns/0/", "/turns/" + id + "/");
    var model = parts.querySelector("[data-model]");
    if (model) model.textContent = t[3];
    makeRoom(id, article.dataset.parent);
    box.appendChild(parts);
    htmx.process(article);
    htmx.trigger(article, "htmx:load", { elt: article });
  }

  // A new turn arrives as HTML appended to the transcript. When it is a new version (an edit,
  // a regenerated answer), the version it replaces and the turns after it leave the screen
  // first: the transcript always shows one branch.
  var NEW_TURN = /^<div hx-swap-oob="beforeend:#transcript">\s*<article [^>]*data-turn-id="(\d+)" data-parent="(\d*)"/;
  function makeRoomFor(message) {
    var match = NEW_TURN.exec(message);
    if (match && !document.getElementById("turn-" + match[1])) makeRoom(match[1], match[2]);
  }
  // Removes the other versions of turn `id` (those with the same parent) and what follows.
  function makeRoom(id, parent) {
    var box = transcript();
    if (!box) return;
    var turns = box.querySelectorAll("article.turn");
    var from = -1;
    for (var i = 0; i < turns.length; i++) {
      if (turns[i].dataset.turnId === id) continue;
      if (turns[i].dataset.parent === parent) { from = i; break; }
      if (parent && turns[i].dataset.turnId === parent) from = i + 1;
    }
    if (from < 0) return;
    for (var j = from; j < turns.length; j++) {
      if (turns[j].dataset.turnId !== id) turns[j].remove();
    }
  }

  // The live-text frames (chatsite/chat/hub.py): "+id\ntext" and "~text" (the same element as
  // the text frame just before) add text; "=id n\nhtml" is the server's HTML for block n of a
  // live answer; ".id" ends it, in the form the tab already shows (livemd.js formats them).
  var lastTarget = "";
  function applyLive(message) {
    var kind = message.charAt(0);
    var newline = message.indexOf("\n");
    var head = newline < 0 ? message.slice(1) : message.slice(1, newline);
    var body = newline < 0 ? "" : message.slice(newline + 1);
    if (kind === "~") body = message.slice(1);
    else if (kind === "+") lastTarget = head;
    var el = document.getElementById(kind === "~" || kind === "+" ? lastTarget : head.split(" ")[0]);
    if (!el) return;
    if (kind === "=") window.chatsiteLive.block(el, parseInt(head.split(" ")[1], 10), body);
    else if (kind === ".") {
      window.chatsiteLive.end(el);
      htmx.trigger(el, "htmx:load", { elt: el }); // what enhances drawn answers (copy buttons)
    } else if (window.chatsiteLive) window.chatsiteLive.append(el, body);
    else el.append(body); // a Text node: model output is never parsed as HTML here
  }

  document.addEventListener("htmx:wsBeforeMessage", function (e) {
    var message = e.detail.message;
    if (typeof message === "string" && message.length && "+~=.".indexOf(message.charAt(0)) >= 0) {
      e.preventDefault();
      applyLive(message);
      follow();
      return;
    }
    if (typeof message === "string" && message.charAt(0) === "<") makeRoomFor(message);
    if (typeof message !== "string" || message.charAt(0) !== "{") return; // HTML: htmx swaps it
    e.preventDefault();
    try { applyFrame(JSON.parse(message)); } catch (err) { return; }
    refreshBusy();
    follow();
  });

  document.addEventListener("htmx:wsAfterMessage", function () { refreshBusy(); follow(); });

  // Nothing sent while a socket was away reaches it, so every (re)connect asks for what it is
  // missing: the turns this page shows as unfinished, and any turn after the last one it has.
  document.addEventListener("htmx:wsOpen", function (e) {
    var turns = main().querySelectorAll("[data-turn-id]");
    var last = turns.length ? parseInt(turns[turns.length - 1].dataset.turnId, 10) : 0;
    var pending = unfinishedTurns().map(function (el) { return parseInt(el.id.slice(2), 10); });
    e.detail.socketWrapper.send(JSON.stringify({ action: "resume", turns: pending, after: last }));
  });

  // The server closes a socket that fell too far behind (4408, the peer not reading fast
  // enough): reconnect after a pause; the open above resumes from what this tab has.
  document.addEventListener("htmx:wsClose", function (e) {
    if (!e.detail.event || e.detail.event.code !== 4408) return;
    var socket = e.detail.socketWrapper;
    setTimeout(function () { socket.reconnect(); }, 500 + Math.random() * 1500);
  });

  // Edit: the message becomes the server's edit form (its words, its files, each removable, and
  // a file input to add more); sending starts a new version of the turn, which the socket
  // draws in its place. Cancel puts the message back.
  function openEditor(button) {
    var bubble = button.closest("article.turn").querySelector("[data-role=user]");
    if (bubble.querySelector(".edit-form") || bubble.dataset.opening) return;
    bubble.dataset.opening = "1";
    htmx.ajax("GET", button.dataset.edit, { source: button, target: bubble, swap: "beforeend" })
      .then(function () {
        delete bubble.dataset.opening;
        var box = bubble.querySelector(".edit-form textarea[name=message]");
        if (!box) return;
        bubble.classList.add("is-editing");
        bubble.scrollIntoView({ block: "nearest" });
        box.focus();
        box.setSelectionRange(box.value.length, box.value.length);
        box.style.height = box.scrollHeight + "px";
      }, function () { delete bubble.dataset.opening; });
  }
  function closeEditor(form) {
    form.closest("[data-role=user]").classList.remove("is-editing");
    form.remove();
  }

  document.addEventListener("click", function (e) {
    var target = e.target.closest ? e.target : e.target.parentElement;
    // An open "Regenerate with…" menu closes on a click anywhere else.
    document.querySelectorAll(".regenerate-with[open]").forEach(function (menu) {
      if (!menu.contains(target)) menu.open = false;
    });
    var edit = target.closest(".edit-turn");
    if (edit) { openEditor(edit); return; }
    var cancel = target.closest(".cancel-edit");
    if (cancel) { closeEditor(cancel.closest(".edit-form")); return; }
  });

  // Another version on screen: keep the turn that was switched in view.
  document.addEventListener("htmx:afterSwap", function (e) {
    var shown = e.detail.requestConfig && e.detail.requestConfig.elt.dataset.show;
    var el = shown && document.getElementById("turn-" + shown);
    if (el) el.scrollIntoView({ block: "nearest" });
  });

  // Keyboard: Enter sends, Shift+Enter is a new line, Escape closes the edit (keys.js: the rest).
  document.addEventListener("keydown", function (e) {
    var composer = document.getElementById("composer");
    if (!composer) return;
    var editing = e.target.closest && e.target.closest(".edit-form");
    if (editing && e.key === "Escape") { e.preventDefault(); closeEditor(editing); return; }
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.target.name === "message") {
      e.preventDefault();
      var root = main();
      if (!(root && root.classList.contains("is-streaming"))) (editing || composer).requestSubmit();
    }
  });

  // The textarea grows with its text, up to a limit set in CSS.
  document.addEventListener("input", function (e) {
    if (e.target.name !== "message") return;
    e.target.style.height = "auto";
    e.target.style.height = e.target.scrollHeight + "px";
  });

  // After a successful send, POSTed or on the socket (composer.js): clear the message (the
  // model and settings stay as chosen: they belong to the conversation), keep the focus there.
  function clearComposer() {
    var form = document.getElementById("composer");
    if (!form) return;
    var box = form.querySelector("textarea[name=message]");
    if (box) { box.value = ""; box.style.height = "auto"; box.focus(); }
    var once = form.querySelector("input[name=background]");
    if (once) once.checked = false; // "in background" is for one message
    stickToBottom = true;
  }
  document.addEventListener("htmx:afterRequest", function (e) {
    var form = document.getElementById("composer");
    if (!form || e.detail.elt !== form || !e.detail.successful) return;
    if (e.detail.xhr.status < 300) clearComposer();
  });
  document.addEventListener("chatsite:composerSent", clearComposer);

  // An answer that ended in this tab: its "Copy" button takes the Markdown the tab received.
  function fillSources(root) {
    root.querySelectorAll(".copy-answer[data-source-from]").forEach(function (button) {
      var text = window.chatsiteLive && window.chatsiteLive.text(button.dataset.sourceFrom);
      var answer = button.closest("[data-role=assistant]").querySelector("[data-step-type=model_output] .md");
      if (text === undefined) text = answer ? answer.innerText : ""; // not seen here: its words
      button.dataset.source = text.replace(/\r\n?/g, "\n"); // as an HTML attribute reads it
      button.removeAttribute("data-source-from");
    });
  }

  // A turn's final meta line carries its status: the answer part takes it too, so the two
  // never disagree, whichever of the meta and status frames a tab saw last.
  function settleStatus(root) {
    var metas = root.matches && root.matches(".turn-meta") ? [root] : root.querySelectorAll(".turn-meta");
    Array.prototype.forEach.call(metas, function (meta) {
      var id = meta.id.slice("meta-".length);
      var part = document.getElementById("a-" + id);
      var status = meta.dataset.turnStatus;
      if (part && isFinal(status) && !isFinal(part.dataset.status)) {
        part.dataset.status = status;
        ended[id] = true;
      }
    });
  }

  document.addEventListener("htmx:load", function (e) {
    settleStatus(e.detail.elt.nodeType === 1 ? e.detail.elt : document);
    if (window.chatsiteLive) window.chatsiteLive.scan(e.detail.elt.nodeType === 1 ? e.detail.elt : document);
    fillSources(e.detail.elt.nodeType === 1 ? e.detail.elt : document);
    refreshBusy();
    var box = document.querySelector("#composer textarea");
    if (box && document.activeElement === document.body) box.focus();
  });

  // The settings panel opens under the composer.
  document.addEventListener("click", function (e) {
    var toggle = e.target.closest && e.target.closest(".settings-toggle");
    if (!toggle) return;
    var panel = document.getElementById(toggle.getAttribute("aria-controls"));
    var open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    panel.hidden = !open;
  });

  // Choosing an agent says which settings it ignores (agents take no generation config).
  document.addEventListener("change", function (e) {
    if (e.target.name !== "model" || !e.target.closest("#composer")) return;
    var note = document.getElementById("agent-note");
    var notes = document.getElementById("agent-notes");
    if (!note || !notes) return;
    note.textContent = JSON.parse(notes.textContent)[e.target.value] || "";
    note.hidden = !note.textContent;
  });

  // Long runs show how long they have been going ("Working · 1:05").
  var STATUS_WORDS = { pending: "Sending", queued: "Queued", in_progress: "Working",
                       requires_action: "Calling tools", requires_continuation: "Continuing" };
  function tick() {
    document.querySelectorAll("[data-role=assistant] .elapsed[data-since]").forEach(function (el) {
      var part = el.closest("[data-role=assistant]");
      if (isFinal(part.dataset.status)) return;
      var seconds = Math.max(0, Math.round((Date.now() - Date.parse(el.dataset.since)) / 1000));
      var label = chatsiteText(STATUS_WORDS[part.dataset.status] || "Working");
      el.textContent = label + " · " + Math.floor(seconds / 60) + ":" + String(seconds % 60).padStart(2, "0");
    });
  }
  setInterval(tick, 1000);

  document.addEventListener("DOMContentLoaded", function () {
    if (window.chatsiteLive) window.chatsiteLive.scan(document);
    refreshBusy();
    follow();
  });
})();
