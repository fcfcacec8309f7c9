/* The search page: a photo (chosen, dropped, pasted or taken), an object or a region of it, words, filters, results. */
"use strict";
(function () {
  const { postSearch, shrink, price, el, breakdown } = window.Lookalike;
  const $ = (id) => document.getElementById(id);
  const PAGE_SIZE = 24;
  //: Longest side of the photo sent to the API; the model looks at 224 pixels anyway.
  const UPLOAD_SIDE = 768;
  //: Products shown for each object with "Shop the look": a glance each, not a catalogue.
  const LOOK_SIZE = 8;
  //: The API refuses a crop narrower or lower than 0.05 of the photo (api/schemas.py), and a
  //: detected box may be thinner (a cable, a pen): such a side is widened, a little over, to search it.
  const MIN_SIDE = 0.051;
  // found: the objects the API found in the photo ({boxes, searched}), kept while the shopper
  // searches one of them, since the answer to a crop search finds nothing itself.
  // picked: the index in found.boxes of the object the shopper chose; look: one search per object.
  const state = { photo: null, box: null, found: null, picked: null, look: false, like: null, filters: {}, priceRange: null, page: 1 };

  // -- the photo ---------------------------------------------------------------------------
  async function usePhoto(file) {
    if (!file || !file.type.startsWith("image/")) return;
    state.photo = await shrink(file, UPLOAD_SIDE);
    state.box = null;
    state.found = null;
    state.picked = null;
    state.look = false;
    state.like = null;
    $("like").hidden = true;
    const img = $("preview-image");
    if (img.src) URL.revokeObjectURL(img.src);
    img.src = URL.createObjectURL(state.photo);
    $("preview").hidden = false;
    $("box").hidden = true;
    drawObjects();
    run(1);
  }

  for (const id of ["photo", "camera"]) {
    $(id).addEventListener("change", (e) => usePhoto(e.target.files[0]));
  }
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    usePhoto([...e.dataTransfer.files].find((f) => f.type.startsWith("image/")));
  });
  document.addEventListener("paste", (e) => {
    const file = [...(e.clipboardData ? e.clipboardData.files : [])].find((f) => f.type.startsWith("image/"));
    if (file) { e.preventDefault(); usePhoto(file); }
  });
  $("remove-photo").addEventListener("click", () => {
    state.photo = null;
    state.box = null;
    state.found = null;
    state.picked = null;
    state.look = false;
    drawObjects();
    $("preview").hidden = true;
    $("photo").value = "";
    $("camera").value = "";
    run(1);
  });

  // -- a box drawn on the photo: sent as fractions of its width and height ----------------------
  const stage = $("stage");
  const boxEl = $("box");
  let start = null;
  function fraction(e) {
    const r = $("preview-image").getBoundingClientRect();
    return [Math.min(1, Math.max(0, (e.clientX - r.left) / r.width)), Math.min(1, Math.max(0, (e.clientY - r.top) / r.height))];
  }
  function drawBox(a, b) {
    const [l, t, r, btm] = [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[0], b[0]), Math.max(a[1], b[1])];
    Object.assign(boxEl.style, { left: l * 100 + "%", top: t * 100 + "%", width: (r - l) * 100 + "%", height: (btm - t) * 100 + "%" });
    boxEl.hidden = false;
    return [l, t, r, btm];
  }
  stage.addEventListener("pointerdown", (e) => {
    start = fraction(e);
    // On an object's button, wait and see: a click searches that object, a drag draws a box.
    // Capturing the pointer now would send the click to the stage instead of the button.
    if (e.target.closest(".object")) return;
    stage.setPointerCapture(e.pointerId);
    e.preventDefault();
  });
  stage.addEventListener("pointermove", (e) => {
    if (!start) return;
    const now = fraction(e);
    if (!stage.hasPointerCapture(e.pointerId)) {
      if (Math.abs(now[0] - start[0]) < 0.02 && Math.abs(now[1] - start[1]) < 0.02) return;
      stage.setPointerCapture(e.pointerId);
    }
    drawBox(start, now);
  });
  stage.addEventListener("pointerup", (e) => {
    if (!start) return;
    const box = drawBox(start, fraction(e));
    start = null;
    if (box[2] - box[0] < 0.05 || box[3] - box[1] < 0.05) { // a click, not a box: keep the whole photo
      boxEl.hidden = !state.box;
      if (state.box) drawBox([state.box[0], state.box[1]], [state.box[2], state.box[3]]);
      return;
    }
    state.box = box.map((v) => Math.round(v * 1000) / 1000);
    state.picked = null; // the shopper's own box replaces the object chosen before
    state.look = false;
    drawObjects();
    run(1);
  });
  $("clear-box").addEventListener("click", automatic);

  /** Back to the search the photo started with: the API picks the whole photo or one of its objects. */
  function automatic() {
    state.box = null;
    state.picked = null;
    state.look = false;
    boxEl.hidden = true;
    drawObjects();
    run(1);
  }

  // -- the objects found in the photo: a button each, over the photo ----------------------------
  function objectName(found) {
    return found.label ? found.label.replace(/_/g, " ") : "object";
  }

  /** The index of the object the results are for, if one is. */
  function searchedObject() {
    if (!state.found) return null;
    if (state.picked != null) return state.picked;
    if (state.box || state.look) return null;
    return state.found.searched;
  }

  function drawObjects() {
    const boxes = state.photo && state.found ? state.found.boxes : [];
    const chosen = searchedObject();
    // A small object drawn after a big one that holds it stays clickable: the smaller, the higher.
    const byArea = boxes.map((_, i) => i).sort((a, b) => area(boxes[b].box) - area(boxes[a].box));
    const buttons = boxes.map((found, i) => {
      const [l, t, r, b] = found.box;
      const button = el("button", null, "object");
      button.type = "button";
      button.dataset.index = i;
      button.append(el("span", String(i + 1), "badge"));
      button.setAttribute("aria-label", `Search the ${objectName(found)} (${i + 1} of ${boxes.length})`);
      button.title = `Search the ${objectName(found)}`;
      button.setAttribute("aria-pressed", String(i === chosen));
      Object.assign(button.style, {
        left: l * 100 + "%", top: t * 100 + "%", width: (r - l) * 100 + "%", height: (b - t) * 100 + "%",
        zIndex: String(1 + byArea.indexOf(i)),
      });
      button.addEventListener("click", () => pick(i));
      return button;
    });
    $("objects").replaceChildren(...buttons);
    $("objects").hidden = !buttons.length;
    $("hint").textContent = buttons.length
      ? "Choose an object in your photo, or drag across the photo to search only that part."
      : "Drag across the photo to search only that part.";
    $("shop-look").hidden = !buttons.length;
    $("shop-look").setAttribute("aria-pressed", String(state.look));
    $("clear-box").hidden = !(state.box || state.picked != null || state.look);
  }

  function cropOf(box) {
    const crop = box.slice();
    for (const [low, high] of [[0, 2], [1, 3]]) {
      if (crop[high] - crop[low] >= MIN_SIDE) continue;
      const centre = (crop[low] + crop[high]) / 2;
      crop[low] = Math.round(Math.min(1 - MIN_SIDE, Math.max(0, centre - MIN_SIDE / 2)) * 10000) / 10000;
      crop[high] = Math.round((crop[low] + MIN_SIDE) * 10000) / 10000;
    }
    return crop;
  }

  function area(box) {
    return (box[2] - box[0]) * (box[3] - box[1]);
  }

  function pick(index) {
    // Choosing the object already searched again lets go of it, as a pressed toggle does.
    if (index === searchedObject()) return automatic();
    state.picked = index;
    state.box = null;
    state.look = false;
    state.like = null;
    $("like").hidden = true;
    boxEl.hidden = true;
    drawObjects();
    run(1);
  }

  $("shop-look").addEventListener("click", () => {
    if (state.look) return automatic();
    state.look = true;
    state.picked = null;
    state.box = null;
    state.like = null;
    $("like").hidden = true;
    boxEl.hidden = true;
    drawObjects();
    run(1);
  });

  /** Lights an object's box while the shopper looks at its results. */
  function light(index, on) {
    const button = $("objects").querySelector(`[data-index="${index}"]`);
    if (button) button.classList.toggle("lit", on);
  }

  // -- the query -----------------------------------------------------------------------------
  function body(page) {
    const filters = { ...state.filters };
    if ($("in-stock").checked) filters.in_stock = true;
    const b = { text: $("text").value.trim() || null, filters, sort: $("sort").value, page, size: PAGE_SIZE, facets: true, explain: true };
    if ($("profile").value) b.profile = $("profile").value;
    // The personal profile ranks by this browser's own recent views: it names the same random id its
    // events carry. Without storage there is no id, and no history either: plain ranking.
    if (b.profile === "personal") {
      const shopper = shopperId();
      if (shopper) b.shopper = shopper;
      else delete b.profile;
    }
    if (state.like) b.product_id = state.like.product_id;
    else if (state.photo && state.picked != null) b.crop = cropOf(state.found.boxes[state.picked].box);
    else if (state.photo && state.box) b.crop = state.box;
    else if (state.photo && state.look) {
      b.detect = "all";
      b.size = LOOK_SIZE;
    }
    return b;
  }

  let latest = 0;
  async function run(page) {
    state.page = page;
    const ticket = ++latest;
    $("status").textContent = "Searching…";
    try {
      const answer = await postSearch(body(page), state.like ? null : state.photo);
      if (ticket !== latest) return; // a newer search has started: its answer wins
      show(answer);
      alsoViewed(page === 1 ? state.like : null);
    } catch (error) {
      if (ticket === latest) $("status").textContent = error.message;
    }
  }

  $("search-form").addEventListener("submit", (e) => { e.preventDefault(); run(1); });
  for (const id of ["sort", "profile", "in-stock"]) $(id).addEventListener("change", () => run(1));
  $("prev").addEventListener("click", () => run(state.page - 1));
  $("next").addEventListener("click", () => run(state.page + 1));
  $("clear-like").addEventListener("click", () => { state.like = null; $("like").hidden = true; run(1); });

  // -- results -------------------------------------------------------------------------------
  function show(answer) {
    if (answer.detection && state.photo) {
      state.found = answer.detection;
      drawObjects();
    }
    const grid = $("grid");
    grid.replaceChildren(...answer.hits.map(card));
    const first = (answer.page - 1) * answer.size + 1;
    $("status").textContent = answer.total === 0
      ? "No products match."
      : `${answer.total} products` + (answer.total > answer.size ? `, ${first}–${first + answer.hits.length - 1} shown` : "");
    $("prev").hidden = answer.page <= 1;
    $("next").hidden = answer.page * answer.size >= Math.min(answer.total, 100);
    const looks = state.look && answer.groups ? answer.groups : [];
    $("groups").replaceChildren(...looks.map(group));
    $("groups").hidden = $("whole-heading").hidden = !looks.length;
    if (looks.length) {
      $("status").textContent = `Shop the look: products for each of the ${looks.length} objects in your photo, then for the whole photo.`;
      $("prev").hidden = $("next").hidden = true;
    }
    facets(answer.facets || {});
  }

  // -- recommendations beside the product being looked at: what other shoppers saw with it ----------
  const REASONS = {
    bought_together: (r) => `Bought together ${r.sessions === 1 ? "once" : r.sessions + " times"}`,
    viewed_together: (r) => `Viewed together in ${r.sessions} ${r.sessions === 1 ? "visit" : "visits"}`,
    looks_like: () => "Looks alike",
    popular: () => "Popular now",
  };
  let alsoTicket = 0;
  async function alsoViewed(product) {
    const ticket = ++alsoTicket;
    if (!product) { $("also").hidden = true; return; }
    try {
      const response = await fetch("/products/" + encodeURIComponent(product.product_id) + "/recommendations?size=6");
      const found = response.ok ? (await response.json()).recommendations : [];
      if (ticket !== alsoTicket) return;  // a newer product is being looked at: its answer wins
      $("also-heading").textContent = "Shoppers who viewed " + product.title + " also viewed";
      $("also-grid").replaceChildren(...found.map((rec) => {
        const node = card(rec);
        const why = (REASONS[rec.reason.kind] || (() => ""))(rec.reason);
        node.querySelector(".price").after(el("p", why, "reason"));
        // The reason is the explanation: a recommendation was not ranked by a query's signals.
        node.querySelector(".why").remove();
        node.querySelector(".explain").remove();
        return node;
      }));
      $("also").hidden = !found.length;
    } catch { if (ticket === alsoTicket) $("also").hidden = true; }  // recommendations are extra: the results stand without them
  }

  /** One object's results under a heading with its number and name, as drawn on the photo. */
  function group(found) {
    const section = el("section", null, "group");
    const heading = el("h3");
    heading.id = "group-" + found.index;
    heading.append(el("span", String(found.index + 1), "badge"), " " + objectName(found));
    section.setAttribute("aria-labelledby", heading.id);
    section.dataset.index = found.index;
    const grid = el("ul", null, "grid");
    grid.replaceChildren(...found.hits.map((hit) => {
      // A product's title sits a level under its object's heading.
      const node = card(hit);
      const title = node.querySelector(".title");
      const lower = el("h4", null, "title");
      lower.append(...title.childNodes);
      title.replaceWith(lower);
      return node;
    }));
    section.append(heading, found.hits.length ? grid : el("p", "No products look like it."));
    section.addEventListener("mouseenter", () => light(found.index, true));
    section.addEventListener("mouseleave", () => light(found.index, false));
    section.addEventListener("focusin", () => light(found.index, true));
    section.addEventListener("focusout", () => light(found.index, false));
    return section;
  }

  // Shopper events under a random id this browser keeps (no name, no address): a click on a
  // result, and "more like this" as a view of the product. keepalive lets a click that leaves
  // the page still arrive.
  function shopperId() {
    try {
      let id = localStorage.getItem("lookalike-shopper");
      if (!id) {
        // getRandomValues, unlike randomUUID, works on plain-http pages too.
        id = "s-" + Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("");
        localStorage.setItem("lookalike-shopper", id);
      }
      return id;
    } catch { return null; }  // storage refused: send nothing rather than a new id each time
  }
  function sendEvent(type, productId) {
    const user = shopperId();
    if (!user) return;
    fetch("/events", {
      method: "POST", keepalive: true, headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ events: [{ type, user, product_id: productId }] }),
    }).catch(() => {});
  }

  // -- saved searches: the page is told of new products that match, as long as it is open ---------
  // The last match shown is kept, so a page opened again shows only what is new since.
  const SAVED = "lookalike-saved-after";
  let stream = null;
  $("save-search").addEventListener("click", async () => {
    const user = shopperId();
    const text = $("text").value.trim();
    if (!user) { $("save-status").textContent = "Saving a search needs this browser's storage."; return; }
    if (!text && !state.photo) { $("save-status").textContent = "Search with a photo or words first."; return; }
    const form = new FormData();
    form.append("shopper", user);
    if (text) form.append("text", text);
    if (state.photo) form.append("image", state.photo, "photo.jpg");
    try {
      const response = await fetch("/saved-searches", { method: "POST", body: form });
      const answer = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(answer.error ? answer.error.message : `The server answered ${response.status}.`);
      if (localStorage.getItem(SAVED) === null) localStorage.setItem(SAVED, "0");
      $("save-status").textContent = "Saved: new products that match will show above the results.";
      listen();
    } catch (error) { $("save-status").textContent = error.message; }
  });
  function listen() {
    const user = shopperId();
    if (stream || !user) return;
    const after = localStorage.getItem(SAVED) || "0";
    stream = new EventSource(`/saved-searches/matches?shopper=${encodeURIComponent(user)}&after=${encodeURIComponent(after)}`);
    stream.addEventListener("match", (e) => {
      const match = JSON.parse(e.data);
      localStorage.setItem(SAVED, String(match.seq));
      const item = el("p", null, "new-match");
      const show = el("button", "Show");
      show.type = "button";
      show.addEventListener("click", () => { $("text").value = match.title || ""; run(1); });
      item.append(el("strong", "New match: "), match.title || match.product_id, " ", show);
      $("new-matches").prepend(item);
      $("new-matches").hidden = false;
    });
  }
  try { if (localStorage.getItem(SAVED) !== null) listen(); } catch { /* storage refused: nothing saved */ }

  // The shown photo's credit and licence, as the catalogue gives them ("Photo: Ana Lopez · CC-BY-4.0").
  function photoCredit(hit) {
    const photo = (hit.images || [])[0] || {};
    const parts = [photo.credit ? "Photo: " + photo.credit : "", photo.licence || ""].filter(Boolean);
    return parts.join(" · ");
  }

  function card(hit) {
    const node = $("card").content.firstElementChild.cloneNode(true);
    node.dataset.productId = hit.product_id;
    const link = hit.product_url || "/products/" + encodeURIComponent(hit.product_id);
    const img = node.querySelector("img");
    if (hit.thumbnails && hit.thumbnails.length) img.src = hit.thumbnails[0];
    else img.remove();
    node.querySelector(".thumb").href = link;
    node.querySelector(".thumb").setAttribute("aria-hidden", "true");
    node.querySelector(".thumb").tabIndex = -1;
    const credit = photoCredit(hit);
    if (credit) { node.querySelector(".credit").textContent = credit; node.querySelector(".credit").hidden = false; }
    const title = node.querySelector(".title a");
    title.textContent = hit.title;
    title.href = link;
    for (const anchor of [title, node.querySelector(".thumb")]) anchor.addEventListener("click", () => sendEvent("click", hit.product_id));
    node.querySelector(".price").textContent = price(hit) + (hit.in_stock === false ? " · out of stock" : "");
    node.querySelector(".tags").replaceChildren(...(hit.tags || []).slice(0, 4).map((t) => el("li", t)));
    const more = node.querySelector(".more");
    more.setAttribute("aria-label", "More like " + hit.title);
    more.addEventListener("click", () => {
      sendEvent("view", hit.product_id);
      state.like = hit;
      $("like-text").textContent = "Showing products like " + hit.title;
      $("like").hidden = false;
      run(1);
    });
    const why = node.querySelector(".why");
    const explain = node.querySelector(".explain");
    why.addEventListener("click", () => {
      if (!explain.hasChildNodes()) explain.append(breakdown(hit));
      explain.hidden = !explain.hidden;
      why.setAttribute("aria-expanded", String(!explain.hidden));
    });
    return node;
  }

  // -- facets: each value with its count; choosing one filters the results ----------------------
  const FACETS = [
    ["category", "Category", "category"],
    ["brand", "Brand", "brands"],
    ["tags", "Tags", "tags_all"],
    ["price", "Price", null],
  ];
  function facets(found) {
    const box = $("facets");
    box.replaceChildren();
    for (const [name, label, filter] of FACETS) {
      const buckets = (found[name] || []).filter((b) => b.count > 0);
      if (!buckets.length) continue;
      const set = el("fieldset", null, "facet");
      set.dataset.facet = name;
      set.append(el("legend", label));
      for (const bucket of buckets) {
        const value = name === "price" ? priceLabel(bucket) : bucket.value;
        const input = el("input");
        input.type = "checkbox";
        input.checked = isChosen(name, filter, bucket);
        input.addEventListener("change", () => { choose(name, filter, bucket, input.checked); run(1); });
        const line = el("label", null, "check");
        line.dataset.value = value;
        line.append(input, " " + value + " ", el("span", String(bucket.count), "count"));
        set.append(line);
      }
      box.append(set);
    }
  }
  function priceLabel(b) {
    if (b.from == null) return "under " + b.to;
    if (b.to == null) return b.from + " and over";
    return b.from + "–" + b.to;
  }
  function isChosen(name, filter, bucket) {
    const f = state.filters;
    if (name === "price") return state.priceRange === priceLabel(bucket);
    if (name === "category") return f.category === bucket.value;
    return (f[filter] || []).includes(bucket.value);
  }
  function choose(name, filter, bucket, on) {
    const f = state.filters;
    if (name === "price") {
      delete f.price_min;
      delete f.price_max;
      state.priceRange = on ? priceLabel(bucket) : null;
      if (on) {
        if (bucket.from != null) f.price_min = bucket.from;
        // The range's upper bound is exclusive; the filter's is inclusive: stay just below it.
        if (bucket.to != null) f.price_max = bucket.to - 0.001;
      }
    } else if (name === "category") {
      if (on) f.category = bucket.value; else delete f.category;
    } else {
      const values = new Set(f[filter] || []);
      if (on) values.add(bucket.value); else values.delete(bucket.value);
      if (values.size) f[filter] = [...values]; else delete f[filter];
    }
  }

  run(1);
})();
