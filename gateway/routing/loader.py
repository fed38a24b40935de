"""Routing (pure): read policy YAML (a file or a folder of files), merge, locate errors by line.

A folder loads every ``*.yaml`` file directly in it (not subfolders, not hidden files such as
a Kubernetes ConfigMap's ``..data``), in name order, and merges them into one document:

* every file must say ``version: 1``;
* ``models``, ``guardrails``, ``routes`` and ``tenants`` merge by entry name: a later file's
  entry replaces an earlier entry of the same name *whole* (entries are not deep-merged);
* ``defaults`` merges by key (``route``, ``retry``, ``timeout_s``, ``cache``): a later key
  replaces the earlier one whole;
* ``rules`` lists concatenate in file order (so earlier files' rules match first).

A policy is operator input, but a ConfigMap is easy to get wrong and YAML can be made to
explode: a few hundred bytes of nested aliases (``*name``) expand to gigabytes once walked.
So aliases are refused (with file and line) and a file over ``MAX_POLICY_BYTES`` is refused
before it is parsed; both hold for ``gateway check-policy`` as for the server.

The merged document is then validated and compiled as one; each problem is reported with the
file and line it came from, its document path and what is wrong.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from gateway.routing.compiler import compile_policy
from gateway.routing.policy import Policy
from gateway.routing.schema import Loc, PolicyError, PolicyIssue, format_path

MERGED_BY_ENTRY = ("models", "guardrails", "routes", "tenants", "defaults")
_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"

SourceMap = dict[Loc, tuple[str, int]]
MAX_POLICY_BYTES = 1024 * 1024
# libyaml (bundled in PyYAML's wheels) parses about 15 times faster than pure-Python PyYAML.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def refuse_aliases(text: str) -> None:
    """Raise a located YAML error at the first alias: the only way a small document grows
    large (aliases of aliases expand exponentially once the document is walked)."""
    for event in yaml.parse(text, Loader=_LOADER):
        if isinstance(event, yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None,
                None,
                f"the alias *{event.anchor} is not accepted in a policy (aliases can expand a "
                "small file to gigabytes): write the value out",
                event.start_mark,  # type: ignore[arg-type]  # libyaml's Mark, same fields
            )


def policy_files(path: str | Path) -> list[Path]:
    """The files a policy path stands for: itself, or a folder's ``*.yaml`` in name order."""
    root = Path(path)
    if root.is_dir():
        files = sorted(
            (p for p in root.iterdir() if p.suffix == ".yaml" and not p.name.startswith(".")),
            key=lambda p: p.name,
        )
        files = [p for p in files if p.is_file()]
        if not files:
            raise PolicyError([PolicyIssue("the folder holds no *.yaml file", file=str(root))])
        return files
    if not root.exists():
        raise PolicyError([PolicyIssue("no such file or folder", file=str(root))])
    return [root]


def load_policy(
    path: str | Path, *, default_key_hashes: Collection[str] = (), region: str = "us-east-1"
) -> Policy:
    """Load, merge, validate and compile the policy at ``path`` (a file or a folder).

    Raises ``PolicyError`` naming file, line, document path and reason for every problem."""
    texts: list[tuple[str, str]] = []
    for file in policy_files(path):
        try:
            with file.open("rb") as handle:
                raw = handle.read(MAX_POLICY_BYTES + 1)
            _check_size(len(raw), str(file))
            texts.append((str(file), raw.decode("utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            raise PolicyError(
                [PolicyIssue(f"cannot read the file: {exc}", file=str(file))]
            ) from None
    return load_policy_texts(texts, default_key_hashes=default_key_hashes, region=region)


def load_policy_text(
    text: str, *, source: str = "<string>", default_key_hashes: Collection[str] = ()
) -> Policy:
    """Load one policy document from a string (``source`` names it in errors)."""
    return load_policy_texts([(source, text)], default_key_hashes=default_key_hashes)


def load_policy_texts(
    texts: list[tuple[str, str]],
    *,
    default_key_hashes: Collection[str] = (),
    region: str = "us-east-1",
) -> Policy:
    """Merge ``(source, text)`` documents in the order given, then validate and compile."""
    merged: dict[str, Any] = {}
    sources: SourceMap = {}
    issues: list[PolicyIssue] = []
    for source, text in texts:
        _check_size(len(text.encode("utf-8")), source)
        data, index, problems = parse_yaml(text, source)
        issues.extend(problems)
        if data is not None:
            issues.extend(_merge(merged, sources, data, index, source))
    if issues:
        raise PolicyError(issues)
    names = tuple(source for source, _ in texts)
    try:
        policy = compile_policy(
            merged, default_key_hashes=default_key_hashes, sources=names, region=region
        )
    except PolicyError as exc:
        raise PolicyError([_locate(issue, sources, names[0]) for issue in exc.issues]) from None
    located = tuple(_locate(issue, sources, names[0]) for issue in policy.warnings)
    return replace(policy, warnings=located)


def _check_size(size: int, source: str) -> None:
    if size > MAX_POLICY_BYTES:
        raise PolicyError(
            [
                PolicyIssue(
                    f"the file is larger than {MAX_POLICY_BYTES} bytes; policies are refused "
                    "above that size (split it into several files of a folder)",
                    file=source,
                    line=1,
                )
            ]
        )


def parse_yaml(
    text: str, source: str
) -> tuple[dict[str, Any] | None, SourceMap, list[PolicyIssue]]:
    """Parse one document; return its data, the line of every document path, and problems."""
    loader = _LOADER(text)
    index: SourceMap = {}
    problems: list[PolicyIssue] = []
    try:
        refuse_aliases(text)
        node = loader.get_single_node()
        if node is None:
            return None, index, [PolicyIssue("the document is empty", file=source, line=1)]
        _index_node(node, (), source, index, problems)
        if problems:
            return None, index, problems
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        column = f" (column {mark.column + 1})" if mark is not None else ""
        what = " ".join(part for part in (exc.context, exc.problem) if part)
        return (
            None,
            index,
            [PolicyIssue(f"YAML syntax error: {what}{column}", file=source, line=line)],
        )
    except yaml.YAMLError as exc:
        return None, index, [PolicyIssue(f"YAML error: {exc}", file=source)]
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        return None, index, [PolicyIssue("the policy must be a mapping", file=source, line=1)]
    return data, index, problems


def _index_node(
    node: yaml.Node, loc: Loc, source: str, index: SourceMap, problems: list[PolicyIssue]
) -> None:
    """Record the line of each path; refuse non-string and duplicate keys (YAML's ``on``)."""
    index.setdefault(loc, (source, node.start_mark.line + 1))
    if len(loc) > 64:
        return
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == _MERGE_TAG:
                _index_node(value_node, loc, source, index, problems)
                continue
            key = str(key_node.value)
            path = (*loc, key)
            if key_node.tag != _STR_TAG or not isinstance(key_node, yaml.ScalarNode):
                problems.append(_key_problem(key, key_node.tag, path, source, line))
            elif key in seen:
                problems.append(
                    PolicyIssue(f"duplicate key '{key}'", format_path(path), source, line, path)
                )
            seen.add(key)
            index[path] = (source, line)
            _index_node(value_node, path, source, index, problems)
    elif isinstance(node, yaml.SequenceNode):
        for position, item in enumerate(node.value):
            _index_node(item, (*loc, position), source, index, problems)


def _key_problem(key: str, tag: str, path: Loc, source: str, line: int) -> PolicyIssue:
    kind = tag.rsplit(":", 1)[-1]
    message = f'key {key!r} is read by YAML as a {kind}, not a string: quote it ("{key}")'
    return PolicyIssue(message, format_path(path), source, line, path)


def _merge(
    merged: dict[str, Any], sources: SourceMap, data: dict[str, Any], index: SourceMap, source: str
) -> list[PolicyIssue]:
    """Fold one file into the merged document (see the module docstring for the rules)."""
    problems: list[PolicyIssue] = []
    entries = _entry_lines(index)
    if data.get("version") != 1:
        where = index.get(("version",), (source, 1))[1]
        got = "missing, expected 1" if "version" not in data else f"{data['version']!r}, expected 1"
        problems.append(PolicyIssue(got, "version", source, where, ("version",)))
    for key, value in data.items():
        if key in MERGED_BY_ENTRY and isinstance(value, dict):
            section = merged.setdefault(key, {})
            if not isinstance(section, dict):
                section = merged[key] = {}
            for name, entry in value.items():
                if name in section:  # an earlier file's entry: forget its lines
                    _forget(sources, (key, name))
                sources.update(entries.get((key, name), ()))
                section[name] = entry
            sources.setdefault((key,), index[(key,)])
        elif (
            key == "rules" and isinstance(value, list) and isinstance(merged.get("rules", []), list)
        ):
            rules = merged.setdefault("rules", [])
            offset = len(rules)
            for loc, place in index.items():
                if loc[:1] == ("rules",) and len(loc) > 1 and isinstance(loc[1], int):
                    sources[("rules", loc[1] + offset, *loc[2:])] = place
            sources.setdefault(("rules",), index[("rules",)])
            rules.extend(value)
        else:
            _replace(sources, (key,), index)
            merged[key] = value
    sources.setdefault((), (source, 1))
    return problems


def _entry_lines(index: SourceMap) -> dict[Loc, list[tuple[Loc, tuple[str, int]]]]:
    """The lines of a file grouped by entry (``(section, name)``), in one pass."""
    groups: dict[Loc, list[tuple[Loc, tuple[str, int]]]] = {}
    for loc, where in index.items():
        if len(loc) >= 2 and loc[0] in MERGED_BY_ENTRY:
            groups.setdefault(loc[:2], []).append((loc, where))
    return groups


def _forget(sources: SourceMap, prefix: Loc) -> None:
    size = len(prefix)
    for loc in [loc for loc in sources if loc[:size] == prefix]:
        del sources[loc]


def _replace(sources: SourceMap, prefix: Loc, index: SourceMap) -> None:
    """Forget an earlier file's lines under ``prefix`` and take this file's."""
    size = len(prefix)
    for loc in [loc for loc in sources if loc[:size] == prefix]:
        del sources[loc]
    sources.update((loc, where) for loc, where in index.items() if loc[:size] == prefix)


def _locate(issue: PolicyIssue, sources: SourceMap, first: str) -> PolicyIssue:
    """Add file and line: those of the longest prefix of the issue's path that a file defines."""
    loc = issue.loc
    if loc[:1] == ("GATEWAY_API_KEYS",):
        return PolicyIssue(issue.message, issue.path, "environment", None, loc)
    for size in range(len(loc), -1, -1):
        where = sources.get(loc[:size])
        if where is not None:
            return PolicyIssue(issue.message, issue.path, where[0], where[1], loc)
    return PolicyIssue(issue.message, issue.path, issue.file or first, issue.line, loc)
