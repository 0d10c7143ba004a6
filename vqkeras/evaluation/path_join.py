"""Joining score rows to label rows on file path: exact path, normalised
absolute path, then a unique trailing run of path components."""
import os
from collections import namedtuple

Match = namedtuple("Match", "score label rule")

RULE_EXACT = "exact"
RULE_NORMALISED = "normalised path"
RULE_SUFFIX = "path suffix"
RULE_BASENAME = "basename"
RULES = (RULE_EXACT, RULE_NORMALISED, RULE_SUFFIX, RULE_BASENAME)


def normalised_path(path, base=None):
    """Absolute, normalised, case-normalised form of a path (relative paths
    are taken from `base`, default the current directory)."""
    path = os.path.expanduser(path)
    if not os.path.isabs(path):
        path = os.path.join(base or os.getcwd(), path)
    return os.path.normcase(os.path.normpath(path))


def path_parts(path):
    """Components of a path, '/' or '\\' separated, without '' and '.'."""
    return [part for part in path.replace("\\", "/").split("/") if part not in ("", ".")]


def _common_suffix(a, b):
    n = 0
    while n < min(len(a), len(b)) and a[-1 - n] == b[-1 - n]:
        n += 1
    return n


class JoinResult:
    """Outcome of `join_on_path`.

    Attributes:
        matches: list of Match (score row, label row, rule) for rows that
            have a score and a label.
        failed: score rows without a score (error or missing value), with
            the label row they matched or None: list of (ScoreRow, LabelRow
            or None).
        unlabelled: scored rows that matched no label row.
        unscored: label rows that matched no score row.
        ambiguous: (ScoreRow, [candidate label paths]) for score rows whose
            basename/suffix match was not unique (also in `unlabelled` or
            `failed`).
    """

    def __init__(self):
        self.matches = []
        self.failed = []
        self.unlabelled = []
        self.unscored = []
        self.ambiguous = []

    def rule_counts(self):
        counts = {rule: 0 for rule in RULES}
        for m in self.matches:
            counts[m.rule] += 1
        return counts


def join_on_path(score_rows, label_rows, base=None):
    """Joins score rows to label rows on file path.

    Rules, in order, each applied to rows not matched yet: (1) the same path
    string; (2) the same normalised absolute path (relative paths taken from
    `base`, default the current directory); (3) the longest common trailing
    run of path components (at least the basename), when exactly one label
    row attains it and no other score row claims that label row as well.
    Rule 3 is reported as `path suffix` (2 or more components) or
    `basename`.

    Returns:
        JoinResult.
    """
    pairs = {}  # score index -> (label index, rule)
    label_taken = set()
    exact = {}
    for j, row in enumerate(label_rows):
        exact.setdefault(row.path, []).append(j)
    for i, row in enumerate(score_rows):
        hits = exact.get(row.path, [])
        if len(hits) == 1 and hits[0] not in label_taken:
            pairs[i] = (hits[0], RULE_EXACT)
            label_taken.add(hits[0])

    by_norm = {}
    for j, row in enumerate(label_rows):
        if j not in label_taken:
            by_norm.setdefault(normalised_path(row.path, base), []).append(j)
    norm_claims = {}
    for i, row in enumerate(score_rows):
        if i not in pairs:
            hits = by_norm.get(normalised_path(row.path, base), [])
            if len(hits) == 1:
                norm_claims.setdefault(hits[0], []).append(i)
    for j, claimants in norm_claims.items():
        if len(claimants) == 1:
            pairs[claimants[0]] = (j, RULE_NORMALISED)
            label_taken.add(j)

    by_base = {}
    label_parts = [path_parts(row.path) for row in label_rows]
    for j, parts in enumerate(label_parts):
        if j not in label_taken and parts:
            by_base.setdefault(parts[-1], []).append(j)
    proposals = {}  # label index -> [(suffix length, score index)]
    ambiguous = []
    for i, row in enumerate(score_rows):
        if i in pairs:
            continue
        parts = path_parts(row.path)
        candidates = by_base.get(parts[-1], []) if parts else []
        if not candidates:
            continue
        lengths = [_common_suffix(parts, label_parts[j]) for j in candidates]
        best = max(lengths)
        winners = [j for j, n in zip(candidates, lengths) if n == best]
        if len(winners) == 1:
            proposals.setdefault(winners[0], []).append((best, i))
        else:
            ambiguous.append((i, [label_rows[j].path for j in winners]))
    for j, claims in proposals.items():
        claims.sort(reverse=True)
        if len(claims) == 1 or claims[0][0] > claims[1][0]:
            length, i = claims[0]
            rest = claims[1:]
            pairs[i] = (j, RULE_SUFFIX if length > 1 else RULE_BASENAME)
            label_taken.add(j)
        else:
            rest = claims
        for _, i in rest:
            ambiguous.append((i, [label_rows[j].path]))

    result = JoinResult()
    for i, row in enumerate(score_rows):
        hit = pairs.get(i)
        label = label_rows[hit[0]] if hit else None
        if row.score is None:
            result.failed.append((row, label))
        elif hit:
            result.matches.append(Match(row, label, hit[1]))
        else:
            result.unlabelled.append(row)
    result.unscored = [row for j, row in enumerate(label_rows) if j not in label_taken]
    result.ambiguous = [(score_rows[i], paths) for i, paths in ambiguous]
    return result
