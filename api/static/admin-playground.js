/* The search playground: one query, two ranking profiles, each result with its per-signal scores. */
"use strict";
(function () {
  const { postSearch, shrink, price, el, breakdown } = window.Lookalike;
  const $ = (id) => document.getElementById(id);

  function render(list, answer, heading, profile) {
    $(heading).textContent = (profile || "plain relevance") + ` (${answer.total} products)`;
    list.replaceChildren(...answer.hits.map((hit) => {
      const item = el("li");
      item.dataset.productId = hit.product_id;
      const img = el("img");
      img.alt = "";
      img.loading = "lazy";
      if (hit.thumbnails && hit.thumbnails.length) img.src = hit.thumbnails[0];
      const text = el("div");
      const link = el("a", hit.title);
      link.href = "/admin/catalogue/" + encodeURIComponent(hit.product_id);
      text.append(link, el("p", `${price(hit)} · score ${hit.score}`, "hint"), breakdown(hit));
      item.append(img, text);
      return item;
    }));
  }

  $("playground").addEventListener("submit", async (e) => {
    e.preventDefault();
    let extra;
    try {
      extra = JSON.parse($("pg-body").value || "{}");
    } catch (error) {
      $("pg-status").textContent = "The JSON is not valid: " + error.message;
      return;
    }
    const file = $("pg-photo").files[0];
    const photo = file ? await shrink(file, 768) : null;
    const base = { ...extra, explain: true };
    if ($("pg-text").value.trim()) base.text = $("pg-text").value.trim();
    $("pg-status").textContent = "Searching…";
    try {
      const sides = [["left", $("pg-left").value], ["right", $("pg-right").value]];
      const answers = await Promise.all(sides.map(([, profile]) => postSearch(profile ? { ...base, profile } : base, photo)));
      sides.forEach(([side, profile], i) => render($(side), answers[i], side + "-heading", profile));
      $("pg-status").textContent = "Done.";
    } catch (error) {
      $("pg-status").textContent = error.message;
    }
  });
})();
