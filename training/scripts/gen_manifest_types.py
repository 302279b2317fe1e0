"""Generate src/types/manifest.ts, the app's types of public/models/manifest.json, from contracts/manifest.schema.json.

    .venv/bin/python training/scripts/gen_manifest_types.py           # rewrite src/types/manifest.ts
    .venv/bin/python training/scripts/gen_manifest_types.py --check   # exit 1 if the committed file is stale

Each `$defs` entry becomes an exported type of the same name (an interface where it has properties), the schema
itself `Manifest`; `MANIFEST_SCHEMA` is the schema less its prose, for the app's validator. The types cover the
keywords the schema uses: type, properties, required, additionalProperties, items, enum, const, anyOf and $ref; the
others (ranges, patterns) are checked at run time, not typed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "contracts" / "manifest.schema.json"
TARGET = REPO / "src" / "types" / "manifest.ts"
PRIMITIVES = {"string": "string", "number": "number", "integer": "number", "boolean": "boolean", "null": "null"}


def doc(schema: dict, indent: str) -> str:
    text = schema.get("description")
    return f"{indent}/** {text.replace('*/', '* /')} */\n" if text else ""


def literal(value) -> str:
    """A JSON value as a TypeScript literal, strings in the app's single quotes."""
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return json.dumps(value)


def union(parts: list[str]) -> str:
    unique = list(dict.fromkeys(parts))
    return " | ".join(unique)


def ts_type(schema: dict, indent: str = "") -> str:
    """The TypeScript type of one schema, written at `indent`."""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "const" in schema:
        return literal(schema["const"])
    if "enum" in schema:
        return union([literal(v) for v in schema["enum"]])
    if "anyOf" in schema:
        return union([ts_type(s, indent) for s in schema["anyOf"]])
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else types
    if not types:
        raise ValueError(f"no type in {schema}")
    out = []
    for t in types:
        if t == "object":
            out.append(object_type(schema, indent))
        elif t == "array":
            item = ts_type(schema["items"], indent)
            out.append(f"({item})[]" if " | " in item else f"{item}[]")
        else:
            out.append(PRIMITIVES[t])
    return union(out)


def object_type(schema: dict, indent: str) -> str:
    if "properties" in schema:
        required = set(schema.get("required", []))
        inner = indent + "  "
        lines = [f"{doc(s, inner)}{inner}{name}{'' if name in required else '?'}: {ts_type(s, inner)};\n"
                 for name, s in schema["properties"].items()]
        return "{\n" + "".join(lines) + indent + "}"
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        return f"Record<string, {ts_type(extra, indent)}>"
    raise ValueError(f"an object needs properties or an additionalProperties schema: {schema}")


ANNOTATIONS = ("$schema", "title", "description", "$comment")


def without_annotations(schema: dict) -> dict:
    """The schema as the validator needs it: the same keywords, less the prose (which the app would only ship)."""
    out = {}
    for keyword, value in schema.items():
        if keyword in ANNOTATIONS:
            continue
        if keyword in ("properties", "$defs"):  # names -> schemas
            out[keyword] = {name: without_annotations(sub) for name, sub in value.items()}
        elif keyword == "anyOf":
            out[keyword] = [without_annotations(sub) for sub in value]
        elif keyword in ("items", "additionalProperties", "propertyNames") and isinstance(value, dict):
            out[keyword] = without_annotations(value)
        else:
            out[keyword] = value
    return out


def render(schema: dict) -> str:
    out = ["// Generated from contracts/manifest.schema.json by training/scripts/gen_manifest_types.py: do not edit.\n"
           "// Regenerate with `.venv/bin/python training/scripts/gen_manifest_types.py`.\n"]
    definitions = [*schema.get("$defs", {}).items(), ("Manifest", schema)]
    for name, definition in definitions:
        body = ts_type(definition)
        keyword = f"interface {name} " if "properties" in definition else f"type {name} = "
        out.append(f"{doc(definition, '')}export {keyword}{body}{'' if 'properties' in definition else ';'}\n")
    out.append("export type JsonSchema = { readonly [keyword: string]: unknown };\n")
    compact = json.dumps(without_annotations(schema), ensure_ascii=False, indent=2)
    out.append("/** contracts/manifest.schema.json less its prose (description, title, $comment): what src/lib/manifest.ts "
               "validates against. */\n"
               f"export const MANIFEST_SCHEMA: JsonSchema = {compact};\n")
    return "\n".join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--check", action="store_true", help="only compare with the committed file")
    args = p.parse_args(argv)
    text = render(json.loads(SCHEMA.read_text()))
    if args.check:
        if TARGET.read_text() != text:
            print(f"{TARGET.relative_to(REPO)} is stale: run training/scripts/gen_manifest_types.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text)
    print(f"wrote {TARGET.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
