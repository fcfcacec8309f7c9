"""``lookalike tune`` and ``lookalike ranking``: the shop's ranking settings, fitted, shown, rolled back."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from cli.common import ensure_fast_malloc, load_config, reports_errors


@click.command("tune")
@click.argument("judged_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--metric", default="ndcg_at_10", show_default=True, type=click.Choice(["ndcg_at_10", "mrr", "recall_at_1", "precision_at_10", "map_at_100"]))
@click.option("--held-out", "held_out_share", default=0.5, show_default=True, type=click.FloatRange(0.1, 0.9), help="Share of the queries kept back to check the fit.")
@click.option("--seed", default=0, show_default=True, type=int, help="Which queries are kept back.")
@click.option("--dry-run", is_flag=True, help="Show what would be saved, save nothing.")
@click.option("--force", is_flag=True, help="Save even when the held-out queries did not improve.")
@reports_errors
def tune(judged_file: Path, metric: str, held_out_share: float, seed: int, dry_run: bool, force: bool) -> None:
    """Fit the fusion weights and parameters to JUDGED_FILE (the format of `lookalike eval judged`) and save them.

    The settings are fitted on part of the queries and checked on the rest; they are saved as
    the next version of the shop's ranking settings (live for every API process within
    seconds) only when the held-out queries score better than with the settings live now.
    """
    ensure_fast_malloc()
    from evaluation.tuning import describe
    from evaluation.tuning import tune as fit
    from plugin.models.registry import backend_for
    from plugin.opensearch.client import connect
    from plugin.opensearch.ranking_store import live_ranking, save_ranking
    from plugin.search.query_vectors import QueryEmbedder
    from plugin.search.ranking import DEFAULT_RANKING

    config = load_config()
    client = connect(config)
    live = live_ranking(client, config)
    embedder = QueryEmbedder(backend_for(config), views=config.query_views)
    result = fit(
        client, config, embedder, judged_file, live.settings if live else DEFAULT_RANKING,
        metric=metric, held_out_share=held_out_share, seed=seed, progress=lambda line: click.echo(line, err=True),
    )
    for part, label in (("fit", "fitted on"), ("held_out", "held out")):
        figures = result.scores[part]
        click.echo(f"{metric} {label} {figures['queries']} queries: {figures['before']:.4f} -> {figures['after']:.4f}")
    click.echo(json.dumps(result.after.model_dump(mode="json"), indent=2))
    if not result.improved and not force:
        click.echo("The held-out queries did not improve: nothing saved (the live settings stay). --force saves anyway.", err=True)
        sys.exit(1 if result.scores["held_out"]["after"] < result.scores["held_out"]["before"] else 0)
    if dry_run:
        click.echo("Dry run: nothing saved.")
        return
    saved = save_ranking(client, config, result.after, f"lookalike tune {judged_file.name}", describe(result))
    click.echo(f"Saved as ranking version {saved.version}; live now.")


@click.group("ranking")
def ranking() -> None:
    """The shop's ranking settings: fusion, its parameters and weights per kind of query."""


@ranking.command("show")
@reports_errors
def show() -> None:
    """The live settings, then every saved version, newest first."""
    from plugin.opensearch.client import connect
    from plugin.opensearch.ranking_store import ranking_history
    from plugin.search.ranking import DEFAULT_RANKING

    config = load_config()
    history = ranking_history(connect(config), config)
    live = history[0].settings if history else DEFAULT_RANKING
    click.echo(f"Live: {'version ' + str(history[0].version) if history else 'the built-in defaults'}")
    click.echo(json.dumps(live.model_dump(mode="json"), indent=2))
    for stored in history:
        click.echo(f"v{stored.version}  {stored.created_at}  {stored.source}  {json.dumps(stored.scores)}")


@ranking.command("rollback")
@click.argument("version", type=click.IntRange(min=0))
@reports_errors
def rollback(version: int) -> None:
    """Make VERSION's settings live again (0: the built-in defaults), saved as a new version."""
    from plugin.opensearch.client import connect
    from plugin.opensearch.ranking_store import ranking_history, save_ranking
    from plugin.search.ranking import DEFAULT_RANKING

    config = load_config()
    client = connect(config)
    if version == 0:
        settings = DEFAULT_RANKING
    else:
        found = [stored for stored in ranking_history(client, config, size=10_000) if stored.version == version]
        if not found:
            raise click.ClickException(f"no ranking version {version}; `lookalike ranking show` lists them")
        settings = found[0].settings
    saved = save_ranking(client, config, settings, f"lookalike ranking rollback {version}", {})
    click.echo(f"Version {version}'s settings are live again, saved as version {saved.version}.")
