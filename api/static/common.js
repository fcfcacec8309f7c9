/* Helpers shared by the search page and the admin playground: calling POST /search and showing a hit. */
"use strict";
window.Lookalike = (function () {
  /** POST /search: multipart with the photo when there is one, JSON otherwise. Resolves to the JSON answer. */
  async function postSearch(body, photo) {
    let init;
    if (photo) {
      const form = new FormData();
      form.append("image", photo, "photo.jpg");
      form.append("query", JSON.stringify(body));
      init = { method: "POST", body: form };
    } else {
      init = { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
    }
    const response = await fetch("/search", init);
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = answer.error || {};
      throw new Error(error.message || ("The search failed (" + response.status + ")."));
    }
    return answer;
  }

  /** A photo scaled down to at most `side` pixels (JPEG), so a phone's 12-megapixel shot uploads quickly. */
  async function shrink(file, side) {
    const bitmap = await createImageBitmap(file);
    const scale = Math.min(1, side / Math.max(bitmap.width, bitmap.height));
    const canvas = document.createElement("canvas");
    canvas.width = Math.round(bitmap.width * scale);
    canvas.height = Math.round(bitmap.height * scale);
    canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.9));
  }

  function price(hit) {
    if (hit.price == null) return "";
    try {
      return new Intl.NumberFormat(undefined, { style: "currency", currency: hit.currency || "USD" }).format(hit.price);
    } catch (e) {
      return hit.price + " " + (hit.currency || "");
    }
  }

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text != null) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  /** A table of each signal's rank, raw score, weight for this query and contribution to the fused score (from `explain`). */
  function breakdown(hit) {
    const explain = hit.explain;
    if (!explain) return el("p", "No breakdown for this result (it was not ranked by a query).");
    const table = el("table", null, "breakdown");
    table.append(el("caption", "Fused score " + Number(explain.fused_score).toFixed(4)));
    const head = table.createTHead().insertRow();
    for (const name of ["signal", "rank", "score", "weight", "contribution"]) {
      const th = el("th", name);
      th.scope = "col";
      head.append(th);
    }
    const body = table.createTBody();
    for (const [signal, parts] of Object.entries(explain.signals || {})) {
      const row = body.insertRow();
      const th = el("th", signal.replace("_", " → "));
      th.scope = "row";
      row.append(th);
      if (signal === "profile") {
        row.insertCell().textContent = parts.name;
        // What the profile read from outside the product: the shopper's taste (0 to 1), popularity from events.
        const read = [["personal", "taste"], ["events", "from events"]].filter(([key]) => parts[key] != null);
        row.insertCell().textContent = read.map(([key, label]) => `${label} ${Number(parts[key]).toFixed(3)}`).join(", ");
        row.insertCell().textContent = "";
        row.insertCell().textContent = "× " + Number(parts.factor).toFixed(3);
      } else {
        row.insertCell().textContent = parts.rank;
        // A keyword hit also says how many of the query's words it matched, which scales its vote.
        const words = parts.coverage == null ? "" : ` (${Math.round(parts.coverage * 100)}% of the words)`;
        row.insertCell().textContent = Number(parts.score).toFixed(4) + words;
        row.insertCell().textContent = parts.weight == null ? "" : Number(parts.weight).toFixed(2);
        row.insertCell().textContent = Number(parts.contribution).toFixed(4);
      }
    }
    return table;
  }

  return { postSearch, shrink, price, el, breakdown };
})();
