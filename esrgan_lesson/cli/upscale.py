"""``esrgan-lesson upscale``: super-resolve image files with a generator checkpoint.

    esrgan-lesson upscale IN... -o OUT --weights W [--weights-gan W2 --alpha A]
                          [--tile N] [--tile-overlap N] [--device D] [--suffix S]
                          [--allow-large]

IN are image files or folders (their images, not recursive). OUT is a folder
(created if needed), or a file name when there is exactly one input file and
OUT has an image extension. Outputs keep the input's name and format, with
``--suffix`` inserted before the extension; GIF and APNG inputs (read as
their first frame, with a note) are written as PNG. What each kind of image
becomes (grey+alpha, palette, EXIF-rotated, CMYK, 16-bit, float TIFF) is
listed in :mod:`esrgan_lesson.image_kinds`; alpha is upscaled as
:func:`esrgan_lesson.inference.upscale_alpha` says (bicubic; binary masks
stay binary).

Huge images: the size is read from the header before any pixel is decoded.
When the upscaled image would not fit in memory the image is refused with
one line naming the output size and the memory needed, unless
``--allow-large`` is given; then it is streamed into the PNG or TIFF file a
band of tiles at a time (:mod:`esrgan_lesson.inference.large_images`).

With ``--weights-gan`` and ``--alpha``, the generator is the network
interpolation ``(1 - alpha) * PSNR + alpha * GAN`` (ESRGAN Eq. 4) of
``--weights`` (PSNR-oriented) and ``--weights-gan``.

Errors: anything wrong with the options or the checkpoint stops before any
image is processed, with one line on stderr and exit status 2. When several
images are given and some cannot be read or written, the others are still
upscaled; each failure is reported on one line, and the exit status is 2.
Outputs are written atomically, so a failure never leaves a partial file.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from esrgan_lesson.errors import ESRGANError
from esrgan_lesson.image_kinds import read_header
from esrgan_lesson.imageio import IMAGE_EXTENSIONS, READ_EXTENSIONS, READ_ONLY_EXTENSIONS, list_images, read_image, write_image
from esrgan_lesson.inference import DEFAULT_TILE_OVERLAP, model_scale, upscale
from esrgan_lesson.inference.large_images import STREAM_TILE, plan_memory, refusal, stream_upscale

#: Exit status when some (not all-stopping) inputs failed; same as a user error.
EXIT_SOME_FAILED = 2


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "upscale",
        help="super-resolve images with a generator checkpoint",
        description="Super-resolve image files with a generator checkpoint (any ESRGAN key layout).",
    )
    parser.add_argument("inputs", nargs="+", metavar="IN", help="image files or folders of images")
    parser.add_argument("-o", "--output", required=True, metavar="OUT", help="output folder, or file for one input")
    parser.add_argument("--weights", required=True, metavar="W", help="generator checkpoint (.safetensors/.pth, any ESRGAN layout)")
    parser.add_argument("--weights-gan", metavar="W2", help="GAN generator to interpolate with (needs --alpha)")
    parser.add_argument("--alpha", type=float, help="interpolation weight of the GAN model, in [0, 1]")
    parser.add_argument("--scale", type=int, help="upscaling factor, only needed when the checkpoint's keys cannot tell it")
    parser.add_argument("--tile", type=int, default=0, metavar="N", help="LR tile size in pixels; 0 = whole image (default)")
    parser.add_argument("--tile-overlap", type=int, default=DEFAULT_TILE_OVERLAP, metavar="N",
                        help=f"LR pixels of context around each tile (default {DEFAULT_TILE_OVERLAP})")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, mps or auto (default)")
    parser.add_argument("--suffix", default="", help="text added to each output name before the extension, e.g. _x4")
    parser.add_argument("--allow-large", action="store_true",
                        help="stream outputs too large for memory into the PNG/TIFF file tile by tile "
                             f"(tile {STREAM_TILE} unless --tile is given)")
    parser.set_defaults(run=run)
    return parser


def _load_model(args: argparse.Namespace, device):  # -> RRDBNet
    from esrgan_lesson.weights import build_generator, interpolate_state_dicts, read_generator

    if args.alpha is not None and args.weights_gan is None:
        raise ESRGANError("--alpha needs --weights-gan (the GAN model to interpolate with)")
    if args.weights_gan is not None and args.alpha is None:
        raise ESRGANError("--weights-gan needs --alpha (0 = PSNR model, 1 = GAN model)")
    if args.alpha is not None and not 0.0 <= args.alpha <= 1.0:
        raise ESRGANError(f"--alpha must be in [0, 1], got {args.alpha}")
    sd, arch = read_generator(args.weights, scale=args.scale)
    if args.weights_gan is not None:
        sd_gan, arch_gan = read_generator(args.weights_gan, scale=args.scale)
        if arch_gan != arch:
            raise ESRGANError(f"--weights and --weights-gan are different networks: {arch} vs {arch_gan}")
        sd = interpolate_state_dicts(sd, sd_gan, args.alpha)
    return build_generator(sd, arch, device)


def _collect_inputs(names: list[str]) -> tuple[list[Path], bool]:
    """Image paths from files/folders, and whether the inputs were one file."""
    paths: list[Path] = []
    for name in names:
        p = Path(name)
        if p.is_dir():
            found = list_images(p)
            if not found:
                raise ESRGANError(f"{p}: folder has no images ({', '.join(READ_EXTENSIONS)})")
            paths.extend(found)
        else:
            paths.append(p)  # missing/bad files are reported per image
    single_file = len(names) == 1 and not Path(names[0]).is_dir()
    return paths, single_file


def _output_extension(src: Path) -> str:
    """The input's extension, or .png for a kind that is read but not written (GIF, APNG)."""
    ext = src.suffix.lower()
    return ".png" if ext in READ_ONLY_EXTENSIONS else ext


def _plan_outputs(inputs: list[Path], single_file: bool, output: Path, suffix: str) -> list[Path]:
    if output.suffix.lower() in READ_EXTENSIONS and not output.is_dir():
        if not single_file:
            raise ESRGANError(f"-o {output} is a file name, but there are several inputs; give a folder")
        if output.suffix.lower() not in IMAGE_EXTENSIONS:
            raise ESRGANError(f"-o {output}: cannot write {output.suffix} files; use .png (or another of {IMAGE_EXTENSIONS})")
        targets = [output.with_name(output.stem + suffix + output.suffix)] if suffix else [output]
    else:
        if output.exists() and not output.is_dir():
            raise ESRGANError(f"-o {output} exists and is not a folder")
        targets = [output / f"{p.stem}{suffix}{_output_extension(p)}" for p in inputs]
    seen: dict[Path, Path] = {}
    for src, dst in zip(inputs, targets):
        if dst in seen:
            raise ESRGANError(f"{seen[dst]} and {src} would both be written to {dst}; use separate runs or --suffix")
        if src.exists() and dst.exists() and src.resolve() == dst.resolve():
            raise ESRGANError(f"refusing to overwrite the input {src}; choose another -o or a --suffix")
        seen[dst] = src
    return targets


def run(args: argparse.Namespace) -> int:
    from esrgan_lesson.device import select_device

    if args.tile < 0 or args.tile_overlap < 0:
        raise ESRGANError(f"--tile and --tile-overlap must be >= 0, got {args.tile} and {args.tile_overlap}")
    inputs, single_file = _collect_inputs(args.inputs)
    targets = _plan_outputs(inputs, single_file, Path(args.output), args.suffix)
    device = select_device(args.device)
    model = _load_model(args, device)

    if len(inputs) == 1:  # one image: its error is the command's error (one line, exit 2)
        _upscale_one(model, inputs[0], targets[0], args, position=0)
        return 0

    failures = 0
    for src, dst in tqdm(list(zip(inputs, targets)), desc="images", unit="img", disable=None):
        try:
            _upscale_one(model, src, dst, args, position=1)
        except ESRGANError as exc:
            failures += 1
            tqdm.write(f"esrgan-lesson upscale: error: {exc}", file=sys.stderr)
    if failures:
        tqdm.write(
            f"esrgan-lesson upscale: {failures} of {len(inputs)} images failed; "
            f"{len(inputs) - failures} written to {args.output}",
            file=sys.stderr,
        )
        return EXIT_SOME_FAILED
    return 0


def _upscale_one(model, src: Path, dst: Path, args: argparse.Namespace, position: int) -> None:
    header = read_header(src)  # size from the header: nothing decoded yet
    h, w = header.size
    scale = model_scale(model)
    stream_tile = args.tile or STREAM_TILE
    plan = plan_memory(header, scale, stream_tile)
    reason = refusal(src, plan, scale, args.allow_large)
    if reason:
        raise ESRGANError(reason)
    with tqdm(desc=src.name, unit="tile", leave=False, position=position, disable=None) as bar:
        try:
            if not plan.fits_in_memory:  # --allow-large, and streaming fits
                note = stream_upscale(model, src, header, dst, stream_tile, args.tile_overlap, progress=bar)
            else:
                image = read_image(src)
                out = upscale(model, image, tile=args.tile or None, tile_overlap=args.tile_overlap, progress=bar)
                note = out.note
                write_image(dst, out.rgb, alpha=out.alpha, grey=out.grey, bit_depth=out.bit_depth, note=note)
        except ESRGANError as exc:
            raise ESRGANError(exc if str(exc).startswith(str(src)) else f"{src}: {exc}") from None
        except OSError as exc:
            raise ESRGANError(f"{dst}: cannot write ({exc.strerror or exc})") from None
        except RuntimeError as exc:  # torch.OutOfMemoryError and CPU allocation failures
            if "out of memory" not in str(exc).lower() and "can't allocate" not in str(exc).lower():
                raise
            hint = f"a smaller --tile than {args.tile}" if args.tile else "--tile 256"
            raise ESRGANError(f"{src}: out of memory upscaling {w}x{h}; try {hint}") from None
    if note:
        tqdm.write(f"{src}: note: {note}")
    tqdm.write(f"{src} ({w}x{h}) -> {dst}" + (" (streamed)" if not plan.fits_in_memory else ""))
