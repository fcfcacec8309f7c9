"""``lookalike eval``: search quality through the API beside exact search, and the CI gate."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from cli.common import ensure_fast_malloc, load_config, reports_errors

_REPORTS_HELP = "[default: $LOOKALIKE_REPORTS_DIR]"


@click.group("eval")
def eval_group() -> None:
    """Measure search quality through the API beside exact search; reports go to $LOOKALIKE_REPORTS_DIR (default reports/)."""


def _echo(line: str) -> None:
    click.echo(line, err=True)


def _written(paths: list[Path]) -> str:
    return "Written: " + ", ".join(str(path) for path in paths) + "."


@eval_group.command("prepare")
@reports_errors
def eval_prepare() -> None:
    """Fetch and unpack the evaluation data sets once (demo catalogue, distractor photos, Fashion-MNIST)."""
    from sample_data.distractors import prepare_distractors
    from sample_data.fashion_mnist import write_catalogue
    from sample_data.vendure import prepare_vendure

    config = load_config()
    for path in (
        prepare_vendure(config.data_dir),
        prepare_distractors(config.data_dir),
        write_catalogue(config.data_dir / "fashion-mnist", 10_000, seed=0),
    ):
        click.echo(f"ready: {path}")


@eval_group.command("vendure")
@click.option("--compare-views", is_flag=True, help="Also compare query view sets (test-time augmentation) by exact search.")
@click.option("--reports", "reports_dir", default=None, type=click.Path(path_type=Path), help=_REPORTS_HELP)
@reports_errors
def eval_vendure(compare_views: bool, reports_dir: Path | None) -> None:
    """Degraded photos of the demo products (blur, rotation, occlusion, light, crops ...) must find their product."""
    ensure_fast_malloc()
    from evaluation.report import write_report
    from evaluation.vendure import MISSES_SHEET, draw_misses, evaluate_vendure
    from sample_data.vendure import prepare_vendure

    config = load_config()
    reports_dir = reports_dir or config.reports_dir
    figures = evaluate_vendure(config, compare_views=compare_views, progress=_echo)
    command = "lookalike eval vendure" + (" --compare-views" if compare_views else "")
    paths = write_report("vendure", figures, reports_dir, command)
    sheet = draw_misses(figures, prepare_vendure(config.data_dir), reports_dir / MISSES_SHEET)
    paths += [sheet] if sheet else []
    click.echo(
        f"Mean recall@1 over {len(figures['recall_at_1']) - 1} degradations: served {figures['mean_recall_at_1']:.3f}, "
        f"exact {figures['exact']['mean_recall_at_1']:.3f}; lowest served {figures['min_recall_at_1']:.3f}. {_written(paths)}"
    )


@eval_group.command("heldout")
@click.option("--reports", "reports_dir", default=None, type=click.Path(path_type=Path), help=_REPORTS_HELP)
@reports_errors
def eval_heldout(reports_dir: Path | None) -> None:
    """Words and photos on a catalogue no default was chosen on (Debian's Tux Paint stamps, fetched once)."""
    ensure_fast_malloc()
    from evaluation.heldout import evaluate_heldout
    from evaluation.report import write_report

    config = load_config()
    figures = evaluate_heldout(config, progress=_echo)
    paths = write_report("heldout", figures, reports_dir or config.reports_dir, "lookalike eval heldout")
    title = figures["text"]["title"]
    click.echo(
        f"Names, recall@1: default {title['default']['recall_at_1']:.3f}, keywords alone {title['keywords']['recall_at_1']:.3f}, "
        f"text vector alone {title['text_vector']['recall_at_1']:.3f}. {_written(paths)}"
    )


@eval_group.command("scenes")
@click.option("--scenes", "count", default=300, show_default=True, type=click.IntRange(min=10, max=5_000), help="Scenes per catalogue.")
@click.option("--reports", "reports_dir", default=None, type=click.Path(path_type=Path), help=_REPORTS_HELP)
@reports_errors
def eval_scenes(count: int, reports_dir: Path | None) -> None:
    """Catalogue products pasted into real photos: is each found, with detect off, auto and all?"""
    ensure_fast_malloc()
    from evaluation.report import write_report
    from evaluation.scenes import evaluate_scenes

    config = load_config()
    figures = evaluate_scenes(config, scenes=count, progress=_echo)
    paths = write_report("scenes", figures, reports_dir or config.reports_dir, f"lookalike eval scenes --scenes {count}")
    modes = figures["modes"]
    click.echo(
        f"Largest product recall@1: off {modes['off']['largest_recall_at_1']:.3f}, auto {modes['auto']['largest_recall_at_1']:.3f}; "
        f"each product recall@5 with all {modes['all']['each_recall_at_5']:.3f}. {_written(paths)}"
    )


@eval_group.command("views")
@click.option("--scenes", "count", default=60, show_default=True, type=click.IntRange(min=10, max=5_000), help="Demo-product scenes per set of views.")
@click.option("--reports", "reports_dir", default=None, type=click.Path(path_type=Path), help=_REPORTS_HELP)
@reports_errors
def eval_views(count: int, reports_dir: Path | None) -> None:
    """Gallery views (tilted, small, cut-out copies of catalogue photos) indexed beside them: what each set gains and costs."""
    ensure_fast_malloc()
    from evaluation.gallery import evaluate_gallery_views
    from evaluation.report import write_report

    config = load_config()
    figures = evaluate_gallery_views(config, scenes=count, progress=_echo)
    paths = write_report("views", figures, reports_dir or config.reports_dir, f"lookalike eval views --scenes {count}")
    best = max(figures["sets"].items(), key=lambda pair: pair[1]["vendure"]["mean_recall_at_1"])
    click.echo(f"Highest Vendure mean recall@1: {best[0]} {best[1]['vendure']['mean_recall_at_1']:.3f}. {_written(paths)}")


@eval_group.command("copies")
@click.option("--reports", "reports_dir", default=None, type=click.Path(path_type=Path), help=_REPORTS_HELP)
@reports_errors
def eval_copies(reports_dir: Path | None) -> None:
    """Edited copies of catalogue photos (crops, resizing, recompression, recolouring, flips, captions, logos)
    among other products and distractor photos: precision and recall of copy detection, by edit."""
    ensure_fast_malloc()
    from evaluation.copies import evaluate_copies
    from evaluation.report import write_json

    config = load_config()
    figures = evaluate_copies(config, progress=_echo)
    path = write_json((reports_dir or config.reports_dir) / "eval-copies.json", figures)
    click.echo(
        f"Precision {figures['precision']:.4f} at recall {figures['recall']:.4f} over the content-preserving edits "
        f"(goal {figures['goal']['precision']} at {figures['goal']['recall']}: {'met' if figures['goal']['met'] else 'missed'}). "
        f"{_written([path])}"
    )


@eval_group.command("tagging")
@click.option("--fashion-products", default=1_000, show_default=True, type=click.IntRange(min=100, max=60_000), help="Fashion-MNIST catalogue, half tagged.")
@click.option("--reports", "reports_dir", default=None, type=click.Path(path_type=Path), help=_REPORTS_HELP)
@reports_errors
def eval_tagging(fashion_products: int, reports_dir: Path | None) -> None:
    """Categories and tags predicted in the shop's own vocabulary from its tagged products:
    Fashion-MNIST (half tagged) and the demo shop (leave-one-out), the neighbour vote beside a
    logistic regression and the majority class."""
    ensure_fast_malloc()
    from evaluation.report import write_json
    from evaluation.tagging import evaluate_tagging

    config = load_config()
    figures = evaluate_tagging(config, fashion_products=fashion_products, progress=_echo)
    path = write_json((reports_dir or config.reports_dir) / "eval-tagging.json", figures)
    fashion, demo = figures["fashion"]["category"], figures["vendure"]["category"]
    click.echo(
        f"Category micro-F1: Fashion-MNIST {fashion['micro_f1']:.3f} (majority {fashion['baseline_micro_f1']:.3f}; "
        f"goal {figures['goal']['fashion_category_micro_f1']}: {'met' if figures['goal']['met'] else 'missed'}), "
        f"demo shop {demo['micro_f1']:.3f}; tags micro-F1 on the demo shop {figures['vendure']['tags']['micro_f1']:.3f}. {_written([path])}"
    )


@eval_group.command("recommendations")
@click.option("--products", default=1_000, show_default=True, type=click.IntRange(min=100, max=60_000), help="Fashion-MNIST catalogue.")
@click.option("--shoppers", default=400, show_default=True, type=click.IntRange(min=10, max=100_000), help="Simulated shoppers.")
@click.option("--personal-shoppers", default=100, show_default=True, type=click.IntRange(min=1, max=100_000), help="Shoppers whose searches are personalised.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--reports", "reports_dir", default=None, type=click.Path(path_type=Path), help=_REPORTS_HELP)
@reports_errors
def eval_recommendations(products: int, shoppers: int, personal_shoppers: int, seed: int, reports_dir: Path | None) -> None:
    """Recommendations and personal ranking on simulated shoppers (seeded; the README says how they
    are simulated), their events sent through POST /events: hit-rate@10 of each shopper's next
    product for the blend, co-occurrence, visual and popularity, and the personal profile against
    plain ranking."""
    ensure_fast_malloc()
    from evaluation.recommendations import evaluate_recommendations
    from evaluation.report import write_json

    config = load_config()
    figures = evaluate_recommendations(config, products=products, shoppers=shoppers, personal_shoppers=personal_shoppers, seed=seed, progress=_echo)
    path = write_json((reports_dir or config.reports_dir) / "eval-recommendations.json", figures)
    rates, mine = figures["hit_rate_at_10"], figures["personal"]
    click.echo(
        "Hit-rate@10: " + ", ".join(f"{name} {value:.3f}" for name, value in rates.items())
        + f". Preferred precision@10: plain {mine['preferred_precision_at_10']['plain']:.3f}, personal {mine['preferred_precision_at_10']['personal']:.3f};"
        f" photo recall@1: plain {mine['photo_recall_at_1']['plain']:.3f}, personal {mine['photo_recall_at_1']['personal']:.3f}"
        f" (goals {'met' if figures['goal']['met'] else 'missed'}). {_written([path])}"
    )


@eval_group.command("fashion")
@click.option("--catalogue", "catalogue_size", default=10_000, show_default=True, type=click.IntRange(min=100, max=60_000))
@click.option("--queries", default=1_000, show_default=True, type=click.IntRange(min=10, max=10_000))
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--rebuild", is_flag=True, help="Ingest the catalogue again even if an index of it exists.")
@click.option("--reports", "reports_dir", default=None, type=click.Path(path_type=Path), help=_REPORTS_HELP)
@reports_errors
def eval_fashion(catalogue_size: int, queries: int, seed: int, rebuild: bool, reports_dir: Path | None) -> None:
    """Fashion-MNIST class retrieval: precision@10, mAP@100, nDCG@10 and recall@1, served and exact."""
    ensure_fast_malloc()
    from evaluation.fashion import evaluate_fashion
    from evaluation.report import write_report

    config = load_config()
    figures = evaluate_fashion(config, catalogue_size=catalogue_size, queries=queries, seed=seed, rebuild=rebuild, progress=_echo)
    command = f"lookalike eval fashion --catalogue {catalogue_size} --queries {queries} --seed {seed}"
    paths = write_report("fashion", figures, reports_dir or config.reports_dir, command)
    served, exact = figures["served"], figures["exact"]
    click.echo(
        f"precision@10 served {served['precision_at_10']:.4f} / exact {exact['precision_at_10']:.4f}, "
        f"mAP@100 {served['map_at_100']:.4f} / {exact['map_at_100']:.4f}. {_written(paths)}"
    )


@eval_group.command("judged")
@click.argument("judged_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", default="judged", show_default=True, help="Report name: eval-<name>.json (starts with 'judged').")
@click.option("--reports", "reports_dir", default=None, type=click.Path(path_type=Path), help=_REPORTS_HELP)
@reports_errors
def eval_judged(judged_file: Path, name: str, reports_dir: Path | None) -> None:
    """Evaluate a shop's own judged queries (JSON Lines) against the live index."""
    from evaluation.judged import evaluate_judged
    from evaluation.report import write_report

    if not name.startswith("judged"):
        raise click.BadParameter("must start with 'judged'", param_hint="--name")
    config = load_config()
    figures = evaluate_judged(config, judged_file, progress=_echo)
    paths = write_report(name, figures, reports_dir or config.reports_dir, f"lookalike eval judged {judged_file}")
    click.echo(f"nDCG@10 served {figures['served']['ndcg_at_10']:.4f} / exact {figures['exact']['ndcg_at_10']:.4f}. {_written(paths)}")


@eval_group.command("watermark")
@click.option("--stock-every", default=3, show_default=True, type=click.IntRange(min=0),
              help="Measure invisible-watermark's methods as shipped on every Nth thumbnail (0: not at all).")
@click.option("--reports", "reports_dir", default=None, type=click.Path(path_type=Path), help=_REPORTS_HELP)
@reports_errors
def eval_watermark(stock_every: int, reports_dir: Path | None) -> None:
    """The thumbnails' invisible watermark: read back after JPEG, resizing and cropping, and its PSNR."""
    import datetime as dt
    import platform

    from evaluation.report import write_json
    from evaluation.watermark import evaluate_watermark

    config = load_config()
    figures = evaluate_watermark(config, stock_every=stock_every, progress=_echo)
    document = {
        "evaluation": "watermark",
        "command": f"lookalike eval watermark --stock-every {stock_every}",
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}",
        **figures,
    }
    path = write_json((reports_dir or config.reports_dir) / "eval-watermark.json", document)
    click.echo(
        f"Read back from {figures['recovered']:.1%} of {figures['thumbnails']} thumbnails after JPEG 50 and a halving, "
        f"PSNR {figures['psnr_db']:.1f} dB (goal {figures['goal']['recovered']:.0%} and {figures['goal']['psnr_db']:g} dB: "
        f"{'met' if figures['goal']['met'] else 'missed'}). {_written([path])}"
    )


@eval_group.command("gate")
@click.option(
    "--reference",
    default=None,
    type=click.Path(path_type=Path),
    help="[default: $LOOKALIKE_REPORTS_DIR/eval-gate.json]",
)
@click.option("--update", is_flag=True, help="Write the measured figures as the new reference instead of comparing.")
@reports_errors
def eval_gate(reference: Path | None, update: bool) -> None:
    """The small evaluation CI runs: fails when a figure falls below the reference by more than its tolerance."""
    ensure_fast_malloc()
    from evaluation.gate import compare, run_gate
    from evaluation.report import write_json

    config = load_config()
    reference = reference or config.reports_dir / "eval-gate.json"
    measured = run_gate(config, progress=_echo)
    if update:
        # Against itself only the default-versus-single-signal checks can fail: such figures never become a reference.
        shortfalls = compare(measured, measured)
        for drop in shortfalls:
            click.echo(f"BELOW A SINGLE SIGNAL {drop}", err=True)
        if shortfalls:
            sys.exit(1)
        write_json(reference, measured)
        click.echo(f"Reference figures written to {reference}.")
        return
    if not reference.is_file():
        raise click.ClickException(f"no reference figures at {reference}; write them with --update")
    drops = compare(measured, json.loads(reference.read_text(encoding="utf-8")))
    for drop in drops:
        click.echo(f"DROP {drop}", err=True)
    if drops:
        sys.exit(1)
    click.echo(f"No figure fell below {reference}.")
