// Copy buttons: "Copy" under a finished answer (its Markdown source, in data-source) and
// "Copy code" on every code block of rendered Markdown. Code buttons are added here, never by
// the server (model text cannot forge one), whenever a block appears: on load, after htmx
// swaps, and as the live renderer writes a streaming reply.
(function () {
  "use strict";

  var CODE_BLOCKS = ".md pre";
  var SHOWN_MS = 1500;

  function copyText(text) {
    if (navigator.clipboard) return navigator.clipboard.writeText(text);
    // Plain http on a LAN has no Clipboard API: copy from a selected, off-screen textarea.
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      // Off screen but laid out as a textarea (pre-wrap), so the code's indentation is kept.
      area.style.cssText = "position: fixed; top: 0; left: -9999px; opacity: 0;";
      document.body.appendChild(area);
      area.select();
      var done = document.execCommand("copy");
      area.remove();
      if (done) resolve(); else reject(new Error("copy refused"));
    });
  }

  // "Copied" for a moment, then the button's own label again.
  function showCopied(button) {
    if (!button.dataset.label) button.dataset.label = button.textContent;
    button.textContent = button.dataset.copied || chatsiteText("Copied");
    button.classList.add("is-done");
    clearTimeout(button.copyTimer);
    button.copyTimer = setTimeout(function () {
      button.textContent = button.dataset.label;
      button.classList.remove("is-done");
    }, SHOWN_MS);
  }

  function codeOf(pre) {
    var code = pre.querySelector(":scope > code");
    if (code) return code.textContent;
    var copy = pre.cloneNode(true);
    copy.querySelectorAll(".copy-code").forEach(function (button) { button.remove(); });
    return copy.textContent;
  }

  // The button's markup (and its translated labels) is a <template> in base.html.
  function addButton(pre) {
    if (pre.querySelector(":scope > .copy-code")) return;
    var template = document.getElementById("copy-code-button");
    if (!template) return;
    pre.appendChild(template.content.firstElementChild.cloneNode(true));
  }

  // A block, or a node inside one (a rewritten block), or a subtree holding some.
  function addButtons(node) {
    var element = node.nodeType === 1 ? node : node.parentElement;
    if (!element) return;
    var pre = element.closest(CODE_BLOCKS);
    if (pre) addButton(pre);
    if (node.nodeType === 1) element.querySelectorAll(CODE_BLOCKS).forEach(addButton);
  }

  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest(".copy-code, .copy-answer");
    if (!button) return;
    var text = button.classList.contains("copy-answer")
      ? button.dataset.source
      : codeOf(button.closest("pre"));
    copyText(text || "").then(function () { showCopied(button); }, function () {});
  });

  // Blocks added, and blocks whose content was rewritten (which may have dropped the button).
  new MutationObserver(function (records) {
    records.forEach(function (record) {
      var pre = record.target.closest && record.target.closest(CODE_BLOCKS);
      if (pre) addButton(pre);
      record.addedNodes.forEach(addButtons);
    });
  }).observe(document.documentElement, { childList: true, subtree: true });

  document.addEventListener("DOMContentLoaded", function () { addButtons(document.body); });
})();
