// Phones: the sidebar (#sidebar) is an off-canvas drawer, opened by the header's "Conversations"
// button. While open the rest of the page is inert and Tab cycles inside the drawer; Escape, the
// close button or a tap on the dimmed page (#app's ::after overlay) close it and the focus goes
// back to the button that opened it.
(function () {
  "use strict";

  var FOCUSABLE = "a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), select, textarea, [tabindex]:not([tabindex='-1'])";
  var opener = null;

  function app() { return document.getElementById("app"); }
  function sidebar() { return document.getElementById("sidebar"); }
  function isOpen() { var root = app(); return !!root && root.classList.contains("is-drawer-open"); }

  // Everything but the drawer: #app's other children and whatever sits beside #app in <body>.
  function outside() {
    var root = app(), nav = sidebar(), els = [];
    Array.prototype.forEach.call(root.children, function (el) { if (el !== nav) els.push(el); });
    Array.prototype.forEach.call(document.body.children, function (el) {
      if (el !== root && el.tagName !== "SCRIPT") els.push(el);
    });
    return els;
  }

  function setDrawer(open) {
    var root = app(), nav = sidebar();
    if (!root || !nav || open === isOpen()) return;
    root.classList.toggle("is-drawer-open", open);
    document.querySelectorAll("[data-drawer-open]").forEach(function (b) {
      b.setAttribute("aria-expanded", String(open));
    });
    outside().forEach(function (el) { el.inert = open; });
    if (open) {
      opener = document.activeElement;
      var first = nav.querySelector("input[type=search]") || nav.querySelector(FOCUSABLE);
      if (first) first.focus();
    } else {
      var back = opener && opener.isConnected ? opener : document.querySelector("[data-drawer-open]");
      if (back) back.focus();
      opener = null;
    }
  }
  window.chatsiteDrawer = { open: function () { setDrawer(true); }, isOpen: isOpen };

  document.addEventListener("click", function (e) {
    var el = e.target.closest ? e.target : null;
    if (!el) return;
    if (el.closest("[data-drawer-open]")) { e.preventDefault(); setDrawer(true); }
    else if (el.closest("[data-drawer-close]")) { e.preventDefault(); setDrawer(false); }
    else if (el === app() && isOpen()) setDrawer(false); // the overlay is #app's own ::after
  });

  document.addEventListener("keydown", function (e) {
    if (!isOpen()) return;
    if (e.key === "Escape" && !e.defaultPrevented) { e.preventDefault(); setDrawer(false); return; }
    if (e.key !== "Tab") return;
    var items = Array.prototype.filter.call(sidebar().querySelectorAll(FOCUSABLE), function (el) {
      return el.getClientRects().length > 0;
    });
    if (!items.length) return;
    var first = items[0], last = items[items.length - 1];
    if (e.shiftKey && document.activeElement === first) { e.preventDefault(); last.focus(); }
    else if (!e.shiftKey && document.activeElement === last) { e.preventDefault(); first.focus(); }
    else if (!sidebar().contains(document.activeElement)) { e.preventDefault(); first.focus(); }
  });

  // Growing past phone width (a rotated tablet) leaves nothing inert behind a drawer-less layout.
  var narrow = window.matchMedia("(max-width: 720px)");
  narrow.addEventListener("change", function () { if (!narrow.matches) setDrawer(false); });
  // A new conversation's first message swaps #app whole: the new one starts closed.
  document.addEventListener("htmx:beforeSwap", function (e) {
    if (e.detail.target && e.detail.target.id === "app") setDrawer(false);
  });
})();
