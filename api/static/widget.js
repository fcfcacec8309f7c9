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
 * in a panel under it, below the photo with a button over each object found in it, which
 * searches that object alone. The shop's own form and search are left alone. Everything lives
 * in a shadow root, so the shop's styles and ours do not mix.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) return;
  var api = (script.getAttribute("data-api") || new URL(script.src, location.href).origin).replace(/\/$/, "");
  var size = Math.min(24, Math.max(1, parseInt(script.getAttribute("data-size") || "8", 10) || 8));
  var selector = script.getAttribute("data-input") || "input[type=search]";

  // A click on a match, sent as a shopper event under a random id this browser keeps for the
  // shop's site (no name, no address): what "viewed together" and personal ranking learn from.
  function shopperId() {
    var key = "lookalike-shopper";
    try {
      var id = localStorage.getItem(key);
      if (!id) { id = "s-" + Math.random().toString(36).slice(2) + Date.now().toString(36); localStorage.setItem(key, id); }
      return id;
    } catch (e) { return null; }  // storage refused (private mode, a blocked third party): send nothing
  }
  function sendClick(productId) {
    var user = shopperId();
    if (!user) return;
    fetch(api + "/events", {
      method: "POST", keepalive: true, headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ events: [{ type: "click", user: user, product_id: productId }] })
    }).catch(function () {});
  }

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
      ".stage{position:relative;display:inline-block;max-width:100%;margin-top:.3rem;vertical-align:top}" +
      ".stage img{display:block;width:auto;height:auto;max-width:100%;max-height:160px}" +
      ".object{position:absolute;padding:0;background:transparent;border:2px dashed #fff;border-radius:4px;box-shadow:0 0 0 1px rgba(0,0,0,.55),inset 0 0 0 1px rgba(0,0,0,.55)}" +
      ".object:hover{background:rgba(255,255,255,.22);border-style:solid}" +
      ".object[aria-pressed=true]{border:3px solid #0b5fff;background:rgba(11,95,255,.12)}" +
      ".badge{position:absolute;top:0;left:0;transform:translate(-45%,-45%);min-width:1.35em;padding:0 .2em;border-radius:3px;background:#1d2430;color:#fff;font-size:10px;line-height:1.35;font-weight:600;text-align:center}" +
      ".object[aria-pressed=true] .badge{background:#0b5fff}" +
      "</style>" +
      '<button type="button" class="photo" aria-label="Search by photo" aria-expanded="false" aria-controls="panel" title="Search by photo">' +
      '<svg width="18" height="18" viewBox="0 0 24 24" aria-hidden="true"><path fill="currentColor" d="M9 3 7.2 5H4a2 2 0 0 0-2 2v11a2 2 0 0 0 2 2h16a2 2 0 0 0 2-2V7a2 2 0 0 0-2-2h-3.2L15 3H9zm3 5a5 5 0 1 1 0 10 5 5 0 0 1 0-10zm0 2a3 3 0 1 0 0 6 3 3 0 0 0 0-6z"/></svg>' +
      "</button>" +
      '<input type="file" accept="image/*" class="sr" tabindex="-1" aria-hidden="true">' +
      '<div class="panel" id="panel" role="region" aria-label="Products that look like your photo" hidden>' +
      '<div class="head"><span class="status" role="status" aria-live="polite"></span>' +
      '<button type="button" class="close" aria-label="Close photo results">×</button></div>' +
      '<div class="shot" hidden><span class="stage"><img alt="Your photo">' +
      '<span class="objects" role="group" aria-label="Objects found in your photo"></span></span></div>' +
      "<ul></ul></div>";
    var button = root.querySelector(".photo");
    var file = root.querySelector("input[type=file]");
    var panel = root.querySelector(".panel");
    var status = root.querySelector(".status");
    var list = root.querySelector("ul");
    var shot = root.querySelector(".shot");
    var shotImage = shot.querySelector("img");
    var objects = root.querySelector(".objects");
    // The photo searched, the objects the API found in it (kept while the shopper searches one
    // of them: the answer to a crop search finds nothing itself) and the one chosen.
    var current = null;
    var latest = 0;

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
      if (shotImage.src) URL.revokeObjectURL(shotImage.src);
      shotImage.src = URL.createObjectURL(photo);
      current = { photo: photo, found: null, picked: null };
      drawObjects();
      run();
    }

    function run() {
      open();
      status.textContent = "Searching…";
      list.innerHTML = "";
      var ticket = ++latest;
      var query = { size: size };
      var words = input.value.trim();
      if (words) query.text = words;
      if (current.picked != null) query.crop = cropOf(current.found.boxes[current.picked].box);
      var form = new FormData();
      form.append("image", current.photo, current.photo.name || "photo.jpg");
      form.append("query", JSON.stringify(query));
      // multipart/form-data is a simple request: no preflight, and no cookies are sent.
      fetch(api + "/search", { method: "POST", body: form, credentials: "omit" })
        .then(function (response) {
          return response.json().then(function (body) {
            if (!response.ok) throw new Error((body.error && body.error.message) || "The photo search failed.");
            return body;
          });
        })
        .then(function (answer) { if (ticket === latest) show(answer); }) // a newer search's answer wins
        .catch(function (error) { if (ticket === latest) status.textContent = error.message; });
    }

    function searchedObject() {
      if (!current || !current.found) return null;
      return current.picked != null ? current.picked : current.found.searched;
    }

    function drawObjects() {
      var boxes = current && current.found ? current.found.boxes : [];
      var chosen = searchedObject();
      // A small object inside a big one stays clickable: the smaller, the higher.
      var byArea = boxes.map(function (_, i) { return i; }).sort(function (a, b) { return area(boxes[b].box) - area(boxes[a].box); });
      objects.innerHTML = "";
      // The photo shows only to offer its objects: without them the panel stays as it always was.
      shot.hidden = !boxes.length;
      boxes.forEach(function (found, i) {
        var name = found.label ? found.label.replace(/_/g, " ") : "object";
        var box = found.box;
        var button = document.createElement("button");
        button.type = "button";
        button.className = "object";
        var badge = document.createElement("span");
        badge.className = "badge";
        badge.textContent = String(i + 1);
        button.append(badge);
        button.setAttribute("aria-label", "Search the " + name + " (" + (i + 1) + " of " + boxes.length + ")");
        button.title = "Search the " + name;
        button.setAttribute("aria-pressed", String(i === chosen));
        button.style.left = box[0] * 100 + "%";
        button.style.top = box[1] * 100 + "%";
        button.style.width = (box[2] - box[0]) * 100 + "%";
        button.style.height = (box[3] - box[1]) * 100 + "%";
        button.style.zIndex = String(1 + byArea.indexOf(i));
        button.addEventListener("click", function () {
          // The object already searched, chosen again, lets go of it: back to the photo's own search.
          current.picked = i === chosen ? null : i;
          drawObjects();
          run();
        });
        objects.append(button);
      });
    }

    // The API refuses a crop narrower or lower than 0.05 of the photo (api/schemas.py), and a
    // detected box may be thinner (a cable, a pen): such a side is widened, a little over, to search it.
    function cropOf(box) {
      var crop = box.slice();
      [[0, 2], [1, 3]].forEach(function (side) {
        var low = side[0], high = side[1];
        if (crop[high] - crop[low] >= 0.051) return;
        var centre = (crop[low] + crop[high]) / 2;
        crop[low] = Math.round(Math.min(0.949, Math.max(0, centre - 0.0255)) * 10000) / 10000;
        crop[high] = Math.round((crop[low] + 0.051) * 10000) / 10000;
      });
      return crop;
    }

    function area(box) {
      return (box[2] - box[0]) * (box[3] - box[1]);
    }

    function show(answer) {
      if (answer.detection) {
        current.found = answer.detection;
        drawObjects();
      }
      var words = input.value.trim();
      var what = current.picked != null ? "the object you chose" : "your photo";
      status.textContent = answer.hits.length
        ? answer.hits.length + " products look like " + what + (words ? " and match “" + words + "”" : "")
        : "No products look like " + what + ".";
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
        link.addEventListener("click", function () { sendClick(hit.product_id); });
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
