"""Checks the Build Output that `vercel build` wrote (.vercel/output) against
the project: one function per `[[bin]]` under api/ (the route table; the
integration test route_table.rs keeps Cargo.toml, api/ and ROUTES equal),
each an `executable` runtime pointing at the binary Vercel's builder
compiled, with the memory, maxDuration and regions vercel.json gives it (the
first `functions` entry whose pattern matches its file, as Vercel applies
them), none for test-only binaries, and every binary within the budget.

    python3 deploy/vercel/check_output.py   (from the repository root)
"""

import json
import os
import re
import subprocess
import sys
import tomllib

OUTPUT = ".vercel/output"


def function_bins() -> dict[str, str]:
    """`api/...` source path -> [[bin]] name, for the deployable functions."""
    with open("Cargo.toml", "rb") as manifest:
        bins = tomllib.load(manifest).get("bin", [])
    return {
        b["path"]: b["name"]
        for b in bins
        if b["path"].startswith("api/") and not b.get("required-features")
    }


def built_functions() -> dict[str, dict]:
    """`api/...` function path (without `.func`) -> its .vc-config.json."""
    found = {}
    root = os.path.join(OUTPUT, "functions")
    for directory, subdirs, _files in os.walk(root):
        for sub in subdirs:
            if sub.endswith(".func"):
                path = os.path.join(directory, sub)
                with open(os.path.join(path, ".vc-config.json")) as config:
                    found[os.path.relpath(path, root)[: -len(".func")]] = json.load(config)
    return found


def glob_regex(pattern: str) -> re.Pattern:
    """A vercel.json `functions` pattern (minimatch: `**/`, `*`, `?`, `[...]`)
    as a regular expression over a source path."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[" and "]" in pattern[i + 2 :]:
            end = pattern.index("]", i + 2)
            out, i = out + pattern[i : end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def configured(source: str, functions: dict) -> dict:
    """The options Vercel applies to `source`: the first entry that is its
    path or whose pattern matches it (entries are not merged)."""
    for pattern, options in functions.items():
        if source == pattern or glob_regex(pattern).match(source):
            return options
    return {}


def main() -> int:
    problems = []
    bins = function_bins()
    built = built_functions()
    expected = {path[: -len(".rs")]: name for path, name in bins.items()}
    for missing in sorted(set(expected) - set(built)):
        problems.append(f"no function in {OUTPUT} for {missing}.rs")
    for extra in sorted(set(built) - set(expected)):
        problems.append(f"{OUTPUT} has a function no [[bin]] under api/ declares: {extra}")

    with open("vercel.json") as vercel_json:
        vercel_functions = json.load(vercel_json).get("functions", {})
    pairs = []
    for function, name in sorted(expected.items()):
        config = built.get(function)
        if config is None:
            continue
        if config.get("runtime") != "executable" or config.get("handler") != "executable":
            problems.append(f"{function}: runtime/handler is {config.get('runtime')}/{config.get('handler')}, not executable")
        binary = config.get("filePathMap", {}).get("executable", "")
        if os.path.basename(binary) != name:
            problems.append(f"{function}: serves {binary!r}, not the [[bin]] {name!r}")
        pairs.append(f"{name}={binary}")
        wanted = configured(f"{function}.rs", vercel_functions)
        for key in ("memory", "maxDuration", "regions"):
            if key in wanted and config.get(key) != wanted[key]:
                problems.append(f"{function}: .vc-config.json has {key} {config.get(key)!r}, vercel.json gives {wanted[key]!r}")

    with open(os.path.join(OUTPUT, "config.json")) as config:
        routes = json.load(config).get("routes", [])
    print(f"{len(built)} functions, {len(routes)} routes in {OUTPUT}/config.json")
    # A dynamic segment (`api/tasks/[id]`) is served through a route that
    # hands its value to the function as a query parameter.
    dests = [route.get("dest", "") for route in routes]
    for function in sorted(expected):
        names = re.findall(r"\[([^\]]+)\]", function)
        for name in names:
            prefix = f"/{function}?{name}="
            if not any(dest.startswith(prefix) for dest in dests):
                problems.append(f"no route in config.json passes [{name}] to /{function} (expected a dest starting {prefix})")

    if pairs:
        budget = subprocess.run([sys.executable, "deploy/budget.py", *pairs])
        if budget.returncode != 0:
            problems.append("a function is over the size budget (table above)")
    for problem in problems:
        print(f"FAIL {problem}")
    print("vercel build output: " + ("ok" if not problems else f"{len(problems)} problem(s)"))
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
