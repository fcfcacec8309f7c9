/* The search playground: one query, two sides (a ranking profile and a version of the ranking settings each), every result with its per-signal scores. */
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

  let versions = [];
  let live = 0;

  const label = (v) => v.version === 0 ? "built-in defaults" : `version ${v.version}` + (v.version === live ? " (live)" : "");
  const chosen = (side) => {
    const value = $(`pg-${side}-ranking`).value;
    return versions.find((v) => String(v.version) === (value === "" ? String(live) : value));
  };

  function showSettings() {
    const sides = [chosen("left"), chosen("right")];
    const field = (v, path) => path.reduce((value, key) => (value == null ? value : value[key]), v && v.settings);
    const rows = [{ key: "heading", cells: ["", ...sides.map((v) => v ? label(v) : "—")] }];
    rows.push({ key: "fusion", cells: ["fusion", ...sides.map((v) => field(v, ["fusion"]))] });
    for (const kind of ["text", "photo", "photo_and_text"]) {
      for (const signal of ["image", "text", "text_image", "keywords"]) {
        rows.push({ key: `${kind}.${signal}`, cells: [`${kind.replace(/_/g, " ")}: ${signal.replace("_", " → ")}`, ...sides.map((v) => field(v, [kind, signal]))] });
      }
    }
    for (const param of ["bridge_floor", "bridge_full", "coverage_power"]) {
      rows.push({ key: `params.${param}`, cells: [param.replace(/_/g, " "), ...sides.map((v) => field(v, ["params", param]))] });
    }
    const judged = (v) => v && v.scores && v.scores.held_out ? `${v.scores.metric} held out ${v.scores.held_out.before} → ${v.scores.held_out.after}` : "";
    rows.push({ key: "judged", cells: ["judged", ...sides.map(judged)] });
    $("ranking-table").replaceChildren(...rows.map(({ key, cells }, i) => {
      const row = el("tr");
      row.dataset.key = key;
      cells.forEach((cell, j) => {
        const c = el(i === 0 || j === 0 ? "th" : "td", cell == null ? "" : String(cell));
        if (i > 0 && j === 2 && String(cells[1]) !== String(cells[2])) c.className = "differs";
        row.append(c);
      });
      return row;
    }));
  }

  async function loadVersions() {
    try {
      const response = await fetch("/admin/api/ranking", { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(`ranking settings: HTTP ${response.status}`);
      const answer = await response.json();
      versions = answer.versions;
      live = answer.live;
      for (const side of ["left", "right"]) {
        const select = $(`pg-${side}-ranking`);
        select.replaceChildren(el("option", "live settings"), ...versions.map((v) => el("option", label(v))));
        select.options[0].value = "";
        versions.forEach((v, i) => { select.options[i + 1].value = String(v.version); });
      }
      if (versions.length > 1) $("pg-right-ranking").value = "0";  // the built-in defaults beside the live settings
      showSettings();
    } catch (error) {
      $("pg-status").textContent = error.message;
    }
  }
  $("pg-left-ranking").addEventListener("change", showSettings);
  $("pg-right-ranking").addEventListener("change", showSettings);
  loadVersions();

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
      const bodies = sides.map(([side, profile]) => {
        const body = profile ? { ...base, profile } : { ...base };
        const version = $(`pg-${side}-ranking`).value;
        if (version !== "") body.ranking_version = Number(version);
        return body;
      });
      const answers = await Promise.all(bodies.map((body) => postSearch(body, photo)));
      sides.forEach(([side, profile], i) => {
        const version = $(`pg-${side}-ranking`).selectedOptions[0];
        render($(side), answers[i], side + "-heading", `${profile || "plain relevance"}, ${version ? version.textContent : "live settings"}`);
      });
      $("pg-status").textContent = "Done.";
    } catch (error) {
      $("pg-status").textContent = error.message;
    }
  });
})();
