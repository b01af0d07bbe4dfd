"""Turn one version of a CustomResourceDefinition into a strict JSON schema (see README.md in this folder).

python tests/release/schemas/crd_to_schema.py CRD.yaml VERSION "SOURCE (repository, tag, path)" OUT.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

METADATA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {
        "name": {"type": "string"},
        "namespace": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        "finalizers": {"type": "array", "items": {"type": "string"}},
    },
}


def strict(node) -> None:
    """Reject unknown fields wherever the CRD lists the known ones, as the API server's strict field validation does."""
    if isinstance(node, dict):
        known = "properties" in node and "additionalProperties" not in node
        if known and not node.get("x-kubernetes-preserve-unknown-fields"):
            node["additionalProperties"] = False
        for value in node.values():
            strict(value)
    elif isinstance(node, list):
        for value in node:
            strict(value)


def main(crd_path: str, version: str, source: str, out: str) -> None:
    docs = yaml.safe_load_all(Path(crd_path).read_text(encoding="utf-8"))
    crd = next(doc for doc in docs if doc and doc.get("kind") == "CustomResourceDefinition")
    served = next(v for v in crd["spec"]["versions"] if v["name"] == version)
    schema = served["schema"]["openAPIV3Schema"]
    strict(schema)
    schema["properties"]["apiVersion"] = {"type": "string", "enum": [f"{crd['spec']['group']}/{version}"]}
    schema["properties"]["kind"] = {"type": "string", "enum": [crd["spec"]["names"]["kind"]]}
    schema["properties"]["metadata"] = METADATA
    schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind", "metadata", "spec"})
    comment = f"openAPIV3Schema of {crd['metadata']['name']} {version} from {source}; unknown fields rejected"
    document = {"$schema": "http://json-schema.org/draft-07/schema#", "$comment": comment, **schema}
    Path(out).write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:])
