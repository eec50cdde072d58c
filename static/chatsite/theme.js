// The sidebar's theme toggle (system → light → dark): applied to <html data-theme> at once,
// without a reload, and saved to the account in the background. Without JavaScript the form
// posts and the page comes back in the new theme.
(function () {
  "use strict";

  function choices(form) {
    var template = form.querySelector("template[data-theme-choices]");
    return Array.prototype.map.call(template.content.querySelectorAll("[data-value]"), function (el) {
      return { value: el.dataset.value, label: el.dataset.label, icon: el.dataset.icon };
    });
  }

  function show(button, all, current) {
    var index = all.findIndex(function (c) { return c.value === current; });
    var choice = all[index], next = all[(index + 1) % all.length];
    button.dataset.current = choice.value;
    button.value = next.value;
    button.setAttribute("aria-label", choice.label);
    button.title = choice.label;
    var use = button.querySelector("use");
    if (use) use.setAttribute("href", use.getAttribute("href").replace(/#.*$/, "#" + choice.icon));
  }

  document.addEventListener("submit", function (e) {
    var form = e.target.closest && e.target.closest("form[data-theme-toggle]");
    if (!form || !window.fetch) return;
    e.preventDefault();
    var button = form.querySelector(".theme-toggle");
    var theme = button.value;
    document.documentElement.dataset.theme = theme;
    // Every toggle on the page (the sidebar may be swapped in again later: it renders the saved one).
    document.querySelectorAll("form[data-theme-toggle] .theme-toggle").forEach(function (b) {
      show(b, choices(b.form), theme);
    });
    var body = new FormData(form);
    body.set("theme", theme);
    fetch(form.action, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { Accept: "application/json" },
    }).catch(function () { /* offline: it stays for this page */ });
  });
})();
