#!/usr/bin/python3
"""Parses Prometheus text exposition format from stdin with the reference Python client's parser
(Debian's python3-prometheus-client) and prints every sample as JSON: {"name{labels}": value}.
Stricter than the parser on what it lets pass: every sample belongs to a family declared with
# HELP and # TYPE before it. Exit 3 when the parser is not installed (the caller skips), 1 when
the text does not parse."""
import json
import math
import sys

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    sys.exit(3)

text = sys.stdin.read()
declared = {}
for line in text.splitlines():
    if line.startswith("# HELP "):
        declared.setdefault(line.split()[2], set()).add("help")
    elif line.startswith("# TYPE "):
        declared.setdefault(line.split()[2], set()).add("type")
    elif line and not line.startswith("#"):
        name = line.split("{")[0].split(" ")[0]
        if declared.get(name) != {"help", "type"}:
            print(f"sample {name} has no # HELP and # TYPE before it", file=sys.stderr)
            sys.exit(1)
try:
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            key = s.name + ("{" + labels + "}" if labels else "")
            samples[key] = None if math.isnan(s.value) else s.value
except Exception as e:  # the parser raises ValueError and others on malformed text
    print(f"does not parse: {e}", file=sys.stderr)
    sys.exit(1)
print(json.dumps(samples))
