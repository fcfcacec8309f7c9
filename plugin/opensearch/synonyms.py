"""The shop's synonyms file, read into the list the product index's search analyser takes.

Solr's format, as OpenSearch's ``synonym_graph`` filter reads it: one rule a line, either
equivalent words (``sofa, couch, settee``) or a one-way mapping (``tv => television``);
``#`` starts a comment. A rule is checked here so a bad line is reported with its number,
before OpenSearch refuses the whole index.
"""

from __future__ import annotations

from pathlib import Path

from plugin.errors import ConfigError

#: More than this and the shop probably pointed at the wrong file.
MAX_RULES = 50_000


def read_synonyms(path: Path | None) -> list[str]:
    """The rules of *path* (none when *path* is None), comments and blank lines left out."""
    if path is None:
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"LOOKALIKE_SYNONYMS_FILE {path}: cannot be read ({exc})") from exc
    rules = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        problem = _problem(line)
        if problem:
            raise ConfigError(f"LOOKALIKE_SYNONYMS_FILE {path}:{number}: {problem}: {raw.strip()!r}")
        rules.append(line)
    if len(rules) > MAX_RULES:
        raise ConfigError(f"LOOKALIKE_SYNONYMS_FILE {path}: {len(rules)} rules, more than {MAX_RULES}")
    return rules


def _problem(line: str) -> str | None:
    sides = line.split("=>")
    if len(sides) > 2:
        return "a rule has at most one '=>'"
    for side in sides:
        words = [word.strip() for word in side.split(",")]
        if not all(words):
            return "every word or phrase between commas must be non-empty"
    if len(sides) == 1 and len(sides[0].split(",")) < 2:
        return "equivalent words need at least two, separated by commas"
    return None
