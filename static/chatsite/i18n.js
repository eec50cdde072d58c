// The words the scripts write into the page, in the page's language: base.html puts them in
// #script-text (chatsite/chat/context.py, SCRIPT_TEXT, translated like any other string).
// chatsiteText("Remove %(name)s", {name: "a.pdf"}); an unknown text comes back as it is.
// Counted words go through chatsitePlural, below.
(function () {
  "use strict";
  var table = null;
  window.chatsiteText = function (text, values) {
    if (table === null) {
      var el = document.getElementById("script-text");
      try { table = el ? JSON.parse(el.textContent) : {}; } catch (e) { table = {}; }
    }
    var out = table[text] || text;
    Object.keys(values || {}).forEach(function (key) {
      out = out.split("%(" + key + ")s").join(String(values[key]));
    });
    return out;
  };
  // chatsitePlural("search", 3): "3 searches" in the form the page's language uses for 3, from
  // #script-plurals (context.py: each form by its Intl.PluralRules category).
  var plurals = null;
  window.chatsitePlural = function (text, count) {
    if (plurals === null) {
      var el = document.getElementById("script-plurals");
      try { plurals = el ? JSON.parse(el.textContent) : {}; } catch (e) { plurals = {}; }
    }
    var forms = plurals[text] || {};
    var category = "other";
    try { category = new Intl.PluralRules(document.documentElement.lang || "en").select(count); } catch (e) { /* an old browser: "other" */ }
    var out = forms[category] || forms.other || "%(count)s " + text;
    return out.split("%(count)s").join(String(count));
  };
})();
