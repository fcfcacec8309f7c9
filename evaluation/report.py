"""Writing an evaluation's figures: JSON with every figure, a Markdown summary, PNG plots."""

from __future__ import annotations

import datetime as dt
import json
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display, no GUI toolkit
import matplotlib.pyplot as plt  # noqa: E402


def write_json(path: Path, data: Mapping[str, Any]) -> Path:
    """*data* as indented JSON at *path*, parents created: the format of every committed report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path


def write_report(name: str, figures: dict[str, Any], directory: Path, command: str) -> list[Path]:
    """``eval-<name>.json``, ``.md`` and ``.png`` under *directory*; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    document = {
        "evaluation": name,
        "command": command,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}",
        **figures,
    }
    json_path = directory / f"eval-{name}.json"
    write_json(json_path, document)
    markdown, plot = _RENDERERS[name.split("-")[0]]
    md_path = directory / f"eval-{name}.md"
    md_path.write_text(markdown(document), encoding="utf-8")
    png_path = directory / f"eval-{name}.png"
    plot(document, png_path)
    return [json_path, md_path, png_path]


# -- Vendure robustness ------------------------------------------------------------------------


def _index_line(index: dict[str, Any] | None) -> list[str]:
    if not index:
        return []
    views = "+".join(index["gallery_views"]) or "none"
    return [
        f"Index: gallery views `{views}`, {index['image_vectors']} image vectors for {index['products']} products, "
        f"{index['bytes'] / 2**20:.1f} MiB, ingested in {index['ingest_seconds']:.1f} s.",
        "",
    ]


def _vendure_markdown(report: dict[str, Any]) -> str:
    exact = report["exact"]
    names = list(report["recall_at_1"])
    lines = [
        f"# Evaluation: Vendure robustness ({report['created']})",
        "",
        f"`{report['command']}` · model views `{'+'.join(report['query_views'])}` · "
        f"{report['catalogue']['products']} products + {report['catalogue']['distractors']} distractors · "
        f"{report['catalogue']['queries_per_degradation']} queries per degradation",
        "",
        f"**Mean recall@1 over the degradations: served {report['mean_recall_at_1']:.3f}, exact {exact['mean_recall_at_1']:.3f}** "
        f"(lowest: served {report['min_recall_at_1']:.3f}, exact {exact['min_recall_at_1']:.3f}). "
        f"Median photo query through the API: {report['latency_ms']['photo_query_median']:.1f} ms.",
        "",
        *_index_line(report.get("index")),
        "| degradation | served R@1 | exact R@1 | served R@5 | exact R@5 | served MRR@5 | cosine to own photo | margin to best other |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in names:
        lines.append(
            f"| {name} | {report['recall_at_1'][name]:.3f} | {exact['recall_at_1'][name]:.3f} | {report['recall_at_5'][name]:.3f} "
            f"| {exact['recall_at_5'][name]:.3f} | {report['mrr'][name]:.3f} | {report['mean_cosine_to_own_photo'][name]:.3f} "
            f"| {report['mean_margin_to_best_other'][name]:+.3f} |"
        )
    lines += ["", *_signals_markdown(report["text"], "Words, and degraded photos with their category's words "
                                     f"({', '.join(report.get('photo_and_words_degradations', []))})")]
    if "views" in report:
        lines += [
            "",
            "Query views compared (exact search, mean recall@1 over the degradations, median time to embed one query):",
            "",
            "| views | mean R@1 | lowest R@1 | embed ms |",
            "|---|---|---|---|",
        ]
        for key, value in report["views"].items():
            lowest = min(value["exact_recall_at_1"].values())
            lines.append(f"| {key} | {value['mean_exact_recall_at_1']:.3f} | {lowest:.3f} | {value['embed_ms_median']:.1f} |")
    lines += ["", "R@k: the share of queries whose own product is among the first k. "
              "Margin: the cosine to the product's own photo minus the best cosine to any other product.", ""]
    return "\n".join(lines)


def _vendure_plot(report: dict[str, Any], path: Path) -> None:
    names = [name for name in report["recall_at_1"]]
    served = [report["recall_at_1"][name] for name in names]
    exact = [report["exact"]["recall_at_1"][name] for name in names]
    figure, axes = plt.subplots(figsize=(8, 0.32 * len(names) + 1.2))
    rows = range(len(names))
    axes.barh([r + 0.2 for r in rows], served, height=0.4, label="served (API)")
    axes.barh([r - 0.2 for r in rows], exact, height=0.4, label="exact", alpha=0.6)
    axes.axvline(0.8, color="grey", linestyle="--", linewidth=1)
    axes.set_yticks(list(rows), names)
    axes.invert_yaxis()
    axes.set_xlim(0, 1)
    axes.set_xlabel("recall@1")
    axes.set_title("Vendure: own product first, by degradation")
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


# -- class retrieval (Fashion-MNIST) and judged queries -------------------------------------------


def _retrieval_markdown(report: dict[str, Any]) -> str:
    metrics = list(report["served"])
    lines = [
        f"# Evaluation: {report['evaluation']} ({report['created']})",
        "",
        f"`{report['command']}` · {report.get('description', '')}",
        "",
        "| metric | served | exact | served − exact |",
        "|---|---|---|---|",
    ]
    for metric in metrics:
        served, exact = report["served"][metric], report["exact"][metric]
        lines.append(f"| {metric} | {served:.4f} | {exact:.4f} | {served - exact:+.4f} |")
    if "latency_ms" in report:
        lines += ["", f"Median query through the API: {report['latency_ms']['query_median']:.1f} ms."]
    if "text" in report:
        lines += ["", *_signals_markdown({"class names": report["text"]}, "The class names typed as words")]
    if "signals" in report:
        lines += ["", *_signals_markdown({"judged queries": report["signals"]}, "The judged queries")]
    return "\n".join(lines) + "\n"


def _signals_markdown(sections: dict[str, dict[str, dict[str, float]]], heading: str) -> list[str]:
    """One table per kind of query: the default fusion, then each signal alone."""
    lines = [f"{heading}: the default fusion beside each signal alone (through the API).", ""]
    for kind, configs in sections.items():
        lines += [f"| {kind.replace('_', ' ')} | R@1 | R@5 | MRR | nDCG@10 | P@10 |", "|---|---|---|---|---|---|"]
        for config, figures in configs.items():
            name = f"**{config}**" if config == "default" else f"{config} alone"
            lines.append(
                f"| {name} | {figures['recall_at_1']:.3f} | {figures['recall_at_5']:.3f} | {figures['mrr']:.3f} "
                f"| {figures['ndcg_at_10']:.3f} | {figures['precision_at_10']:.3f} |"
            )
        lines.append("")
    return lines


def _retrieval_plot(report: dict[str, Any], path: Path) -> None:
    metrics = list(report["served"])
    figure, axes = plt.subplots(figsize=(7, 3.5))
    positions = range(len(metrics))
    axes.bar([p - 0.2 for p in positions], [report["served"][m] for m in metrics], width=0.4, label="served (API)")
    axes.bar([p + 0.2 for p in positions], [report["exact"][m] for m in metrics], width=0.4, label="exact", alpha=0.6)
    axes.set_xticks(list(positions), metrics)
    axes.set_ylim(0, 1)
    axes.set_title(report["evaluation"])
    axes.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


# -- held-out words and photos --------------------------------------------------------------------


def _heldout_markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# Evaluation: held-out catalogue ({report['created']})",
        "",
        f"`{report['command']}` · {report['description']}",
        "",
        *_signals_markdown(report["text"], "Names, category and group names, and degraded photos with their category's name"),
    ]
    return "\n".join(lines) + "\n"


def _signals_plot(report: dict[str, Any], path: Path) -> None:
    """Recall@1 of each kind of query: the default fusion beside each signal alone."""
    sections = report["text"]
    configs = sorted({config for section in sections.values() for config in section}, key=lambda c: (c != "default", c))
    figure, axes = plt.subplots(figsize=(8, 3.8))
    width = 0.8 / len(configs)
    for number, config in enumerate(configs):
        values = [section.get(config, {}).get("recall_at_1", 0.0) for section in sections.values()]
        axes.bar([i + number * width for i in range(len(sections))], values, width=width, label=config)
    axes.set_xticks([i + 0.4 - width / 2 for i in range(len(sections))], [name.replace("_", " ") for name in sections])
    axes.set_ylim(0, 1)
    axes.set_ylabel("recall@1")
    axes.set_title(f"{report['evaluation']}: default fusion and each signal alone")
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


# -- Scenes: products pasted into real photos --------------------------------------------------------


def _scenes_markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# Evaluation: {report['evaluation']} ({report['created']})",
        "",
        f"`{report['command']}` · {report['scenes_per_set']} scenes per set (seed {report['seed']}), "
        f"{report['backgrounds']} real background photos from the distractor set; 1 to 3 catalogue products pasted "
        "into each at 15–50% of the frame, 30% of them rotated up to 30°. `true_box` searches the largest product's "
        "own box (the shopper's crop): the bound a detector works towards. "
        f"Model: {report.get('model', '')}.",
    ]
    for name, figures in report["sets"].items():
        lines += [
            "",
            f"## {name}: {figures['products']} products among {figures['indexed'] - figures['products']} distractors, {figures['pasted']} pasted",
            "",
            "| detect | largest recall@1 | largest recall@5 | largest MRR | each product recall@5 | ms p50 | ms p90 |",
            "|---|---|---|---|---|---|---|",
        ]
        for mode, row in figures["modes"].items():
            lines.append(
                f"| {mode} | {row['largest_recall_at_1']:.3f} | {row['largest_recall_at_5']:.3f} | {row['largest_mrr']:.3f} | "
                f"{row['each_recall_at_5']:.3f} | {row['ms_p50']:.1f} | {row['ms_p90']:.1f} |"
            )
    lines += [
        "",
        "Each product recall@5: for `all`, the product is among the first 5 results of its own group (a group "
        "whose box lies mostly on that product's photo; `each_recall_at_5_any_group` in the JSON counts any group); "
        "for the other modes, among the first 5 results. Latency is the whole request through the API (decode, "
        "detection, embedding, search) with the API's caches cleared before each query, in one process on this machine.",
    ]
    return "\n".join(lines) + "\n"


def _scenes_plot(report: dict[str, Any], path: Path) -> None:
    sets = list(report["sets"])
    modes = list(report["sets"][sets[0]]["modes"])
    series = {mode: [report["sets"][name]["modes"][mode]["largest_recall_at_1"] for name in sets] for mode in modes}
    _grouped_bars(path, sets, series, "largest product, recall@1", "Scenes: the largest pasted product found first, per detect mode")


def _grouped_bars(path: Path, groups: list[str], series: dict[str, list[float]], ylabel: str, title: str) -> None:
    """One group of bars per name in *groups*, one bar per series in each, on a 0–1 scale."""
    figure, axis = plt.subplots(figsize=(9, 4))
    width = 0.8 / len(series)
    for number, (label, values) in enumerate(series.items()):
        axis.bar([x + number * width for x in range(len(groups))], values, width, label=label)
    axis.set_xticks([x + width * (len(series) - 1) / 2 for x in range(len(groups))], groups, fontsize=8)
    axis.set_ylabel(ylabel)
    axis.set_ylim(0, 1)
    axis.legend()
    axis.set_title(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


# -- Gallery views -----------------------------------------------------------------------------

#: The degradations the views table shows one by one (the rest are in the JSON).
_VIEWS_DEGRADATIONS = ("rotate_45", "rotate_90", "occlude_40", "downscale_64", "crop_50", "gaussian_blur")


def _views_markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# Evaluation: gallery views ({report['created']})",
        "",
        f"`{report['command']}` · model {report['model']} · detect `{report['detect']}`. Each set of views is indexed "
        "beside every catalogue photo and measured through the API: the Vendure robustness table (54 products among "
        "280 distractors, 18 degradations), a lifestyle catalogue (the same products' photos pasted into real photos; "
        "the queries are their packshots, plain and degraded 5 ways) and the scenes of demo products and of "
        "held-out stamps, searched with detect auto. Figures from one run, on one machine.",
        "",
        "| views | image vectors | MiB | ingest s | photo ms p50 | Vendure mean R@1 | min R@1 | mean R@5 | mean MRR@5 | "
        + " | ".join(_VIEWS_DEGRADATIONS) + " | lifestyle R@1 | R@5 | MRR@5 | scenes demo R@1 | MRR | scenes stamps R@1 | MRR |",
        "|---" * (16 + len(_VIEWS_DEGRADATIONS)) + "|",
    ]
    for name, row in report["sets"].items():
        index, vendure, life, scenes = row["index"], row["vendure"], row["lifestyle"], row["scenes_auto"]
        lines.append(
            f"| {name} | {index['image_vectors']} | {index['bytes'] / 2**20:.1f} | {index['ingest_seconds']:.1f} | "
            f"{row['photo_query_ms_p50']:.1f} | {vendure['mean_recall_at_1']:.3f} | {vendure['min_recall_at_1']:.3f} | "
            f"{vendure['mean_recall_at_5']:.3f} | {vendure['mean_mrr_at_5']:.3f} | "
            + " | ".join(f"{vendure['recall_at_1'][key]:.3f}" for key in _VIEWS_DEGRADATIONS)
            + f" | {life['recall_at_1']:.3f} | {life['recall_at_5']:.3f} | {life['mrr_at_5']:.3f} | "
            f"{scenes['vendure']['largest_recall_at_1']:.3f} | {scenes['vendure']['largest_mrr']:.3f} | "
            f"{scenes['heldout']['largest_recall_at_1']:.3f} | {scenes['heldout']['largest_mrr']:.3f} |"
        )
    lines += [
        "",
        "Image vectors, size on disk and ingest time are those of the Vendure index (334 products); ingest time "
        "includes fetching, decoding, thumbnails and, for `object`, the detector. The held-out stamps' word and photo "
        "queries and Fashion-MNIST are measured by their own evaluations with `LOOKALIKE_GALLERY_VIEWS` set.",
    ]
    return "\n".join(lines) + "\n"


def _views_plot(report: dict[str, Any], path: Path) -> None:
    names = list(report["sets"])
    rows = [report["sets"][name] for name in names]
    series = {
        "Vendure mean R@1": [row["vendure"]["mean_recall_at_1"] for row in rows],
        "lifestyle R@1": [row["lifestyle"]["recall_at_1"] for row in rows],
        "scenes (demo) R@1": [row["scenes_auto"]["vendure"]["largest_recall_at_1"] for row in rows],
        "scenes (stamps) R@1": [row["scenes_auto"]["heldout"]["largest_recall_at_1"] for row in rows],
    }
    _grouped_bars(path, names, series, "recall@1", "Gallery views: recall@1 per set of views indexed")


_RENDERERS = {
    "views": (_views_markdown, _views_plot),
    "scenes": (_scenes_markdown, _scenes_plot),
    "heldout": (_heldout_markdown, _signals_plot),
    "vendure": (_vendure_markdown, _vendure_plot),
    "fashion": (_retrieval_markdown, _retrieval_plot),
    "judged": (_retrieval_markdown, _retrieval_plot),
}
