/*
 * lookalike's drop-in widget: adds a photo button to a shop's own search box.
 *
 *   <script src="https://search.example/widget.js" data-input="#q" defer></script>
 *
 * data-input  CSS selector of the shop's search input (default: the first input[type=search])
 * data-api    the lookalike API's origin (default: where this script came from)
 * data-size   how many matches to show (default 8)
 *
 * Pick, drop or paste a photo; the matches, combined with the words typed in the input, show
 * in a panel under it. The shop's own form and search are left alone. Everything lives in a
 * shadow root, so the shop's styles and ours do not mix.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) return;
  var api = (script.getAttribute("data-api") || new URL(script.src, location.href).origin).replace(/\/$/, "");
  var size = Math.min(24, Math.max(1, parseInt(script.getAttribute("data-size") || "8", 10) || 8));
  var selector = script.getAttribute("data-input") || "input[type=search]";

  function start() {
    var input = document.querySelector(selector);
    if (!input) {
      console.warn("lookalike widget: no element matches " + selector);
      return;
    }
    var host = document.createElement("span");
    host.className = "lookalike-widget";
    host.style.position = "relative";
    host.style.display = "inline-block";
    input.insertAdjacentElement("afterend", host);
    var root = host.attachShadow({ mode: "open" });
    root.innerHTML =
      "<style>" +
      ":host{font:14px/1.4 system-ui,sans-serif;color:#1d2430}" +
      "button{font:inherit;cursor:pointer;border:1px solid #c4cad4;background:#fff;border-radius:6px;padding:.3em .6em;color:inherit}" +
      "button:focus-visible,a:focus-visible{outline:3px solid #ffbf47;outline-offset:1px}" +
      ".over{border-color:#0b5fff;background:#eef3ff}" +
      ".panel{position:absolute;top:calc(100% + 4px);z-index:2147483000;max-height:70vh;overflow:auto;background:#fff;border:1px solid #c4cad4;border-radius:8px;box-shadow:0 6px 24px rgba(0,0,0,.15);padding:.5rem}" +
      ".head{display:flex;justify-content:space-between;align-items:center;gap:.5rem}" +
      "ul{list-style:none;margin:.3rem 0 0;padding:0}" +
      "li a{display:grid;grid-template-columns:56px 1fr;gap:.5rem;align-items:center;padding:.3rem;border-radius:6px;color:inherit;text-decoration:none}" +
      "li a:hover{background:#f2f4f7}" +
      "img{width:56px;height:56px;object-fit:contain;background:#fafafa}" +
      ".price{color:#5b6575}" +
      ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}" +
      "</style>" +
      '<button type="button" class="photo" aria-label="Search by photo" aria-expanded="false" aria-controls="panel" title="Search by photo">' +
      '<svg width="18" height="18" viewBox="0 0 24 24" aria-hidden="true"><path fill="currentColor" d="M9 3 7.2 5H4a2 2 0 0 0-2 2v11a2 2 0 0 0 2 2h16a2 2 0 0 0 2-2V7a2 2 0 0 0-2-2h-3.2L15 3H9zm3 5a5 5 0 1 1 0 10 5 5 0 0 1 0-10zm0 2a3 3 0 1 0 0 6 3 3 0 0 0 0-6z"/></svg>' +
      "</button>" +
      '<input type="file" accept="image/*" class="sr" tabindex="-1" aria-hidden="true">' +
      '<div class="panel" id="panel" role="region" aria-label="Products that look like your photo" hidden>' +
      '<div class="head"><span class="status" role="status" aria-live="polite"></span>' +
      '<button type="button" class="close" aria-label="Close photo results">×</button></div>' +
      "<ul></ul></div>";
    var button = root.querySelector(".photo");
    var file = root.querySelector("input[type=file]");
    var panel = root.querySelector(".panel");
    var status = root.querySelector(".status");
    var list = root.querySelector("ul");

    function open() {
      // Under the input, kept inside the viewport on a narrow phone screen.
      var box = host.getBoundingClientRect();
      var width = Math.min(352, window.innerWidth - 16);
      var left = Math.max(8, Math.min(box.right - width, window.innerWidth - 8 - width));
      panel.style.width = width + "px";
      panel.style.left = left - box.left + "px";
      panel.hidden = false;
      button.setAttribute("aria-expanded", "true");
    }
    function close() {
      panel.hidden = true;
      button.setAttribute("aria-expanded", "false");
    }

    function search(photo) {
      if (!photo || !/^image\//.test(photo.type)) return;
      open();
      status.textContent = "Searching…";
      list.innerHTML = "";
      var form = new FormData();
      form.append("image", photo, photo.name || "photo.jpg");
      var words = input.value.trim();
      form.append("query", JSON.stringify(words ? { text: words, size: size } : { size: size }));
      // multipart/form-data is a simple request: no preflight, and no cookies are sent.
      fetch(api + "/search", { method: "POST", body: form, credentials: "omit" })
        .then(function (response) {
          return response.json().then(function (body) {
            if (!response.ok) throw new Error((body.error && body.error.message) || "The photo search failed.");
            return body;
          });
        })
        .then(show)
        .catch(function (error) { status.textContent = error.message; });
    }

    function show(answer) {
      status.textContent = answer.hits.length
        ? answer.hits.length + " products look like your photo" + (input.value.trim() ? " and match “" + input.value.trim() + "”" : "")
        : "No products look like your photo.";
      answer.hits.forEach(function (hit) {
        var item = document.createElement("li");
        var link = document.createElement("a");
        link.href = hit.product_url || api + "/products/" + encodeURIComponent(hit.product_id);
        var img = document.createElement("img");
        img.alt = "";
        img.loading = "lazy";
        if (hit.thumbnails && hit.thumbnails[0]) img.src = api + hit.thumbnails[0];
        var text = document.createElement("span");
        var title = document.createElement("strong");
        title.textContent = hit.title;
        var price = document.createElement("span");
        price.className = "price";
        price.textContent = hit.price != null ? " " + hit.price + " " + (hit.currency || "") : "";
        text.append(title, document.createElement("br"), price);
        link.append(img, text);
        item.append(link);
        list.append(item);
      });
    }

    button.addEventListener("click", function () { file.click(); });
    file.addEventListener("change", function () {
      search(file.files[0]);
      file.value = "";
    });
    root.querySelector(".close").addEventListener("click", function () { close(); button.focus(); });
    panel.addEventListener("keydown", function (e) {
      if (e.key === "Escape") { close(); button.focus(); }
    });

    function imageFrom(list) {
      for (var i = 0; list && i < list.length; i++) if (/^image\//.test(list[i].type)) return list[i];
      return null;
    }
    // A pasted or dropped photo searches; pasted or dropped text goes into the input as usual.
    input.addEventListener("paste", function (e) {
      var photo = imageFrom(e.clipboardData && e.clipboardData.files);
      if (photo) { e.preventDefault(); search(photo); }
    });
    [input, button].forEach(function (target) {
      target.addEventListener("dragover", function (e) {
        if (e.dataTransfer && Array.prototype.indexOf.call(e.dataTransfer.types, "Files") >= 0) {
          e.preventDefault();
          button.classList.add("over");
        }
      });
      target.addEventListener("dragleave", function () { button.classList.remove("over"); });
      target.addEventListener("drop", function (e) {
        var photo = imageFrom(e.dataTransfer && e.dataTransfer.files);
        button.classList.remove("over");
        if (photo) { e.preventDefault(); search(photo); }
      });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
