// Attachments in the composer and in a message's edit form: files chosen with the button,
// dropped on the form or pasted into its message box go into the form's file input and show as
// removable chips in its tray. The edit form also lists the message's own files, each
// removable. The checks here only save a round trip; the server checks every file again.
(function () {
  "use strict";

  var MB = 1024 * 1024;
  var KINDS = "images, audio, video, PDFs, Office documents, CSV and text files";
  var chosen = new WeakMap(); // file input → the files it will send, in order
  var FILES = "input[type=file][name=attachments]";

  // The form (composer or edit form) an event happened in, if it takes files.
  function formOf(el) {
    var form = el && el.closest ? el.closest("form") : null;
    return form && form.querySelector(FILES) ? form : null;
  }
  function fileInput(form) { return form && form.querySelector(FILES); }
  // The composer's tray has its id; an edit form's is marked data-new-files.
  function trayOf(input) {
    return input.form.querySelector("[data-new-files]") || document.getElementById("attachment-tray");
  }
  // The message's own files an edit form keeps: they count towards the limit too.
  function keptCount(input) { return input.form.querySelectorAll("[data-remove-kept]").length; }

  // 512 bytes, 12.5 KB, 31.2 MB: as the server writes sizes (binary units).
  function humanSize(size) {
    if (size < 1024) return size === 1 ? "1 byte" : size + " bytes";
    var units = ["KB", "MB", "GB"];
    for (var i = 0; i < units.length; i++) {
      size /= 1024;
      if (size < 1024 || i === units.length - 1) return size.toFixed(1).replace(/\.0$/, "") + " " + units[i];
    }
  }

  function quoted(name) { return "\u201c" + name + "\u201d"; }

  function extension(name) {
    var dot = name.lastIndexOf(".");
    return dot > 0 ? name.slice(dot).toLowerCase() : "";
  }

  // The input carries the server's rules: accept=".png,.jpg,…" data-max-bytes=… and so on.
  function rules(input) {
    function number(value, fallback) { var n = parseInt(value, 10); return n > 0 ? n : fallback; }
    return {
      maxBytes: number(input.dataset.maxBytes, 20 * MB),
      maxFiles: number(input.dataset.maxFiles, 10),
      maxTotal: number(input.dataset.maxTotalBytes, 40 * MB),
      accept: (input.accept || "").split(",").map(function (s) { return s.trim().toLowerCase(); })
        .filter(Boolean),
    };
  }

  // As the file picker reads `accept`: ".ext", "type/*" or "type/subtype".
  function accepted(file, accept) {
    var ext = extension(file.name), type = (file.type || "").toLowerCase();
    return !accept.length || accept.some(function (token) {
      if (token.charAt(0) === ".") return token === ext;
      if (/\/\*$/.test(token)) return type.indexOf(token.slice(0, -1)) === 0;
      return token === type;
    });
  }

  // The same messages as the server's (chatsite/chat/attachments.py).
  function problem(file, limits) {
    if (file.size === 0) return chatsiteText("%(name)s is empty.", {name: quoted(file.name)});
    if (file.size > limits.maxBytes) {
      return chatsiteText("%(name)s is %(size)s; the limit is %(limit)s per file.",
        {name: quoted(file.name), size: humanSize(file.size), limit: humanSize(limits.maxBytes)});
    }
    if (!accepted(file, limits.accept)) {
      return chatsiteText("%(name)s is not a file type Gemini can read (%(kinds)s).",
        {name: quoted(file.name), kinds: KINDS});
    }
    return "";
  }

  // Errors go where the server's go; an attachment message is cleared once it no longer applies.
  function say(message) {
    var box = document.getElementById("composer-error");
    if (!box) return;
    if (message) {
      box.textContent = message;
      box.dataset.attachments = "";
    } else if ("attachments" in box.dataset) {
      box.textContent = "";
      delete box.dataset.attachments;
    }
  }

  function add(input, files) {
    var limits = rules(input);
    var list = (chosen.get(input) || []).slice();
    var kept = keptCount(input);
    var total = list.reduce(function (sum, f) { return sum + f.size; }, 0);
    var errors = [];
    files.forEach(function (file) {
      var twin = list.some(function (f) {
        return f.name === file.name && f.size === file.size && f.lastModified === file.lastModified;
      });
      if (twin) return;
      var why = problem(file, limits);
      if (!why && kept + list.length >= limits.maxFiles) {
        why = chatsiteText("That is %(count)s files; the limit is %(limit)s per message.",
          {count: kept + list.length + 1, limit: limits.maxFiles});
      }
      if (!why && total + file.size > limits.maxTotal) {
        why = chatsiteText("These files add up to %(size)s; the limit is %(limit)s per message.",
          {size: humanSize(total + file.size), limit: humanSize(limits.maxTotal)});
      }
      if (why) { errors.push(why); return; }
      list.push(file);
      total += file.size;
    });
    set(input, list);
    say(errors[0] || "");
  }

  // The input's FileList is what the form sends; a DataTransfer is the way to build one.
  function set(input, list) {
    chosen.set(input, list);
    var transfer = new DataTransfer();
    list.forEach(function (file) { transfer.items.add(file); });
    input.files = transfer.files;
    render(input, list);
  }

  function remove(input, index) {
    var list = (chosen.get(input) || []).slice();
    list.splice(index, 1);
    set(input, list);
    say("");
    var buttons = trayOf(input).querySelectorAll(".attachment-remove");
    var next = buttons[Math.min(index, buttons.length - 1)];
    var box = input.form && input.form.querySelector("textarea[name=message]");
    if (next) next.focus(); else if (box) box.focus();
  }

  // A thumbnail drawn on a canvas: no blob: URL, so the page's CSP stays as strict as it is.
  function thumbnail(file, holder) {
    if (!/^image\//.test(file.type) || !window.createImageBitmap) return;
    createImageBitmap(file).then(function (bitmap) {
      var side = 40, ratio = window.devicePixelRatio || 1;
      var scale = Math.max(side / bitmap.width, side / bitmap.height) * ratio;
      var canvas = document.createElement("canvas");
      canvas.width = canvas.height = Math.round(side * ratio);
      canvas.getContext("2d").drawImage(
        bitmap, (canvas.width - bitmap.width * scale) / 2, (canvas.height - bitmap.height * scale) / 2,
        bitmap.width * scale, bitmap.height * scale
      );
      bitmap.close();
      holder.replaceChildren(canvas);
    }).catch(function () { /* a format the browser cannot draw keeps its icon */ });
  }

  // The file's kind as one of the app's SVG icons (the sprite's address: the page's own icons').
  function icon(file) {
    var kind = (file.type || "").split("/")[0];
    var name = { image: "image", audio: "audio", video: "video" }[kind] || "file";
    var used = document.querySelector("svg.icon use");
    var svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("class", "icon icon-" + name);
    svg.setAttribute("focusable", "false");
    if (used) {
      var use = document.createElementNS("http://www.w3.org/2000/svg", "use");
      use.setAttribute("href", used.getAttribute("href").replace(/#.*$/, "#" + name));
      svg.appendChild(use);
    }
    return svg;
  }

  function render(input, list) {
    var tray = trayOf(input);
    if (!tray) return;
    tray.replaceChildren();
    list.forEach(function (file, index) {
      var item = document.createElement("li");
      item.className = "attachment-chip";
      var thumb = document.createElement("span");
      thumb.className = "attachment-thumb";
      thumb.setAttribute("aria-hidden", "true");
      thumb.appendChild(icon(file));
      thumbnail(file, thumb);
      var name = document.createElement("bdi");
      name.className = "attachment-name";
      name.textContent = file.name;
      var size = document.createElement("span");
      size.className = "attachment-size";
      size.textContent = humanSize(file.size);
      var button = document.createElement("button");
      button.type = "button";
      button.className = "attachment-remove";
      button.textContent = "×";
      button.setAttribute("aria-label", chatsiteText("Remove %(name)s", {name: file.name}));
      button.addEventListener("click", function () { remove(input, index); });
      item.append(thumb, name, size, button);
      tray.append(item);
    });
  }

  // The button: what the dialog picked is added to what was already chosen.
  document.addEventListener("change", function (e) {
    var input = e.target;
    if (!input.matches || !input.matches(FILES) || !input.form) return;
    add(input, Array.from(input.files));
  });

  // An edit form's own file, removed: it is no longer in the form's `keep` list.
  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("[data-remove-kept]");
    if (!button) return;
    var form = button.form, item = button.closest("li");
    var next = item.nextElementSibling || item.previousElementSibling;
    item.remove();
    say("");
    var focus = next ? next.querySelector("[data-remove-kept]") : form.querySelector("textarea[name=message]");
    if (focus) focus.focus();
  });

  // Drag and drop onto the composer (highlighted while files are over it).
  function carriesFiles(e) {
    return e.dataTransfer && Array.prototype.indexOf.call(e.dataTransfer.types, "Files") >= 0;
  }
  function unhighlight(except) {
    document.querySelectorAll("form.is-dragging").forEach(function (form) {
      if (form !== except) form.classList.remove("is-dragging");
    });
  }
  ["dragenter", "dragover"].forEach(function (type) {
    document.addEventListener(type, function (e) {
      if (!carriesFiles(e)) return;
      e.preventDefault(); // everywhere: a missed drop must not open the file in the tab
      var form = formOf(e.target);
      e.dataTransfer.dropEffect = form ? "copy" : "none";
      unhighlight(form);
      if (form) form.classList.add("is-dragging");
    });
  });
  document.addEventListener("dragleave", function (e) {
    if (!formOf(e.relatedTarget)) unhighlight(null);
  });
  document.addEventListener("drop", function (e) {
    if (!carriesFiles(e)) return;
    e.preventDefault();
    unhighlight(null);
    var input = fileInput(formOf(e.target));
    if (input) add(input, Array.from(e.dataTransfer.files));
  });

  // Pasting files or a screenshot into the message box. Text that comes with them (copied from
  // a document) is still pasted as text.
  document.addEventListener("paste", function (e) {
    var input = fileInput(formOf(e.target));
    if (!input || e.target.name !== "message" || !e.clipboardData) return;
    var files = Array.from(e.clipboardData.files || []);
    if (!files.length) return;
    if (Array.prototype.indexOf.call(e.clipboardData.types, "text/plain") < 0) e.preventDefault();
    add(input, files);
  });

  // After a successful send the files went with the message: empty the tray.
  document.addEventListener("htmx:afterRequest", function (e) {
    var form = document.getElementById("composer"), input = fileInput(form);
    if (!form || !input || e.detail.elt !== form || !e.detail.successful) return;
    if (e.detail.xhr.status >= 300) return;
    set(input, []);
  });
})();
