"""The rockpack command line: commands and their flags, no logic.

craft-cli gives the same dispatcher, verbosity flags, progress display and error
format as Rockcraft and the other craft tools.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from craft_cli import (
    ArgumentParsingError,
    BaseCommand,
    CommandGroup,
    CraftError,
    Dispatcher,
    EmitterMode,
    GlobalArgument,
    ProvideHelpException,
    emit,
)

from rockpack import __version__
from rockpack.build.steps import STEP_NAMES, ShellOptions
from rockpack.errors import EXIT_USAGE, RockpackError, disk_error

# Start-up imports stay light (no pydantic models, craft-parts or requests): a pack with
# nothing changed is answered before the project is loaded. Commands import what they use.
if TYPE_CHECKING:
    from rockpack.build.noop_request import PackRequest
    from rockpack.project.model import LoadedProject

EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell shows for a writer it cut off
EXIT_TERMINATED = 143


class Terminated(BaseException):
    """SIGTERM, raised so that every 'finally' removes its temporary files."""


def _on_sigterm(_signum: int, _frame: object) -> None:
    raise Terminated


def _add_project_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--project-dir",
        type=Path,
        default=Path.cwd(),
        help="Directory holding rockpack.yaml or rockcraft.yaml (default: current directory)",
    )


def _load(parsed: argparse.Namespace) -> LoadedProject:
    from rockpack.project.model import load_project

    loaded = load_project(parsed.project_dir.resolve())
    for warning in loaded.warnings:
        emit.message(f"Warning: {warning}")
    return loaded


class _LifecycleCommand(BaseCommand):
    """Shared by pull, overlay, build, stage, prime and pack."""

    step = "prime"

    def fill_parser(self, parser: argparse.ArgumentParser) -> None:
        _add_project_dir(parser)
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument(
            "--destructive-mode",
            action="store_true",
            help="Build on this host instead of a clean instance",
        )
        mode.add_argument(
            "--use-lxd",
            action="store_true",
            help="Build in a clean LXD instance (the default when LXD is usable)",
        )
        parser.add_argument("--platform", help="Build only this platform of the project")
        parser.add_argument("--build-for", help="Build only platforms for this architecture")
        parser.add_argument(
            "--shell", action="store_true", help="Open a shell instead of running the last step"
        )
        parser.add_argument(
            "--shell-after", action="store_true", help="Open a shell after the last step"
        )
        parser.add_argument("--debug", action="store_true", help="Open a shell if a step fails")
        parser.add_argument(
            "--refresh-base",
            action="store_true",
            help="Resolve the base image's tag again instead of using the pinned digest",
        )
        parser.add_argument(
            "--apply-package-repositories",
            action="store_true",
            help="With --destructive-mode, add the project's package-repositories to this "
            "host's apt sources, where they stay (also ROCKPACK_APPLY_PACKAGE_REPOSITORIES=1); "
            "clean builds always apply them inside the instance",
        )

    def _options(self, parsed: argparse.Namespace) -> Any:
        from rockpack.build.source_date import source_date_epoch
        from rockpack.pack import BuildOptions

        return BuildOptions(
            destructive_mode=parsed.destructive_mode,
            platform=parsed.platform,
            build_for=parsed.build_for,
            epoch=source_date_epoch(os.environ),
            shell=ShellOptions(
                shell=parsed.shell, shell_after=parsed.shell_after, debug=parsed.debug
            ),
            refresh_base=parsed.refresh_base,
            apply_repositories=parsed.apply_package_repositories,
        )

    def run(self, parsed_args: argparse.Namespace) -> int:
        from rockpack.pack import run_lifecycle

        loaded = _load(parsed_args)
        if _in_clean_instance(parsed_args):
            _clean_build(loaded, self, parsed_args)
            return 0
        run_lifecycle(loaded, self.step, self._options(parsed_args))
        emit.message(f"Ran the parts to the {self.step} step.")
        return 0

    def inner_arguments(self, parsed: argparse.Namespace) -> list[str]:
        """The flags the same command takes inside a clean instance."""
        arguments = []
        for flag in ("platform", "build_for"):
            if getattr(parsed, flag):
                arguments += [f"--{flag.replace('_', '-')}", getattr(parsed, flag)]
        for flag in ("shell", "shell_after", "debug", "refresh_base"):
            if getattr(parsed, flag):
                arguments.append(f"--{flag.replace('_', '-')}")
        return arguments


def _in_clean_instance(parsed: argparse.Namespace) -> bool:
    from rockpack.lxd.provider import use_clean_instance

    return use_clean_instance(destructive_mode=parsed.destructive_mode, use_lxd=parsed.use_lxd)


def _clean_build(
    loaded: LoadedProject,
    command: _LifecycleCommand,
    parsed: argparse.Namespace,
    output: Path | None = None,
) -> list[Path]:
    from rockpack.build.source_date import project_source_date
    from rockpack.lxd.clean_build import CleanBuild, run_clean_build

    return run_clean_build(
        CleanBuild(
            loaded=loaded,
            command=command.name,
            arguments=command.inner_arguments(parsed),
            output=output,
            interactive=bool(parsed.shell or parsed.shell_after or parsed.debug),
            source_date=project_source_date(loaded.project_dir),
        )
    )


def _step_command(step: str) -> type[_LifecycleCommand]:
    help_text = f"Run the parts up to the {step} step"
    return type(
        f"{step.title()}Command",
        (_LifecycleCommand,),
        {"name": step, "step": step, "help_msg": help_text, "overview": help_text + "."},
    )


class PackCommand(_LifecycleCommand):
    name = "pack"
    common = True
    help_msg = "Build the parts and pack the rock"
    overview = (
        "Run every part to the prime step and pack the result as an OCI archive named "
        "<name>_<version>_<platform>.rock."
    )

    def fill_parser(self, parser: argparse.ArgumentParser) -> None:
        super().fill_parser(parser)
        parser.add_argument(
            "-o", "--output", type=Path, help="Directory (or .rock file) to write the rock to"
        )
        parser.add_argument(
            "--compression",
            default="gzip:1",
            help="Layer compression: gzip[:1-9] (default gzip:1; levels 1-2 use ISA-L, "
            "3-9 zlib, plain 'gzip' is 6) or zstd[:1-19] (zstd:3); zstd needs containerd "
            "1.5+, podman or docker 23+ to run",
        )
        from rockpack.project.layer_budget import DEFAULT_BUDGET

        parser.add_argument(
            "--layers",
            help="How the rock's files become layers, instead of the project's 'layering': "
            f"'part' (a layer per part, at most {DEFAULT_BUDGET}), 'part:N' or 'N' (at most "
            "N), or 'single' (one layer, as Rockcraft)",
        )
        parser.add_argument(
            "--no-attestations",
            action="store_true",
            help="Leave out the SBOM and the provenance (in /.rock/ and as artifacts), "
            "whatever the project's 'attestations' says",
        )
        parser.add_argument(
            "--index",
            action="store_true",
            help="Also write <name>_<version>.rock: one multi-platform rock holding an image "
            "index of every platform's image (push it with 'rockpack push')",
        )

    def run(self, parsed_args: argparse.Namespace) -> int:
        request = _answer_unchanged(parsed_args)
        if request.answered:
            return 0
        from rockpack.oci.compress import parse_compression
        from rockpack.pack import pack

        output = parsed_args.output.resolve() if parsed_args.output else None
        compression = parse_compression(parsed_args.compression)
        loaded = _load_for_pack(parsed_args)
        index_dir = _index_directory(output, loaded) if parsed_args.index else None
        options = replace(self._options(parsed_args), compression=compression)
        rocks = (
            _clean_build(loaded, self, parsed_args, output=output)
            if _in_clean_instance(parsed_args)
            else pack(loaded, options, output, request=request.digest)
        )
        if index_dir is not None:
            from rockpack.publish import write_index

            index = write_index(rocks, index_dir, loaded.project.name)
            emit.message(f"Packed {index}, an index of {len(rocks)} platforms' images.")
        return 0

    def inner_arguments(self, parsed: argparse.Namespace) -> list[str]:
        layers = ["--layers", parsed.layers] if parsed.layers else []
        layers += ["--no-attestations"] if parsed.no_attestations else []
        return [*super().inner_arguments(parsed), "--compression", parsed.compression, *layers]


def _answer_unchanged(parsed: argparse.Namespace) -> PackRequest:
    """The last pack's rocks, reported, when this same request has nothing new to pack."""
    from rockpack.build.noop_request import answer_unchanged

    return answer_unchanged(parsed.project_dir.resolve(), vars(parsed), os.environ)


def _load_for_pack(parsed: argparse.Namespace) -> LoadedProject:
    """The project with --layers and --no-attestations applied."""
    from rockpack.project.layering import with_layers_flag

    loaded = with_layers_flag(_load(parsed), parsed.layers)
    if parsed.no_attestations:
        from rockpack.project.attestations import without_attestations

        loaded = without_attestations(loaded)
    return loaded


def _index_directory(output: Path | None, loaded: LoadedProject) -> Path:
    """Where --index writes its rock (checked before anything is built)."""
    from rockpack.publish import index_directory

    return index_directory(output, loaded.project_dir)


class InspectCommand(BaseCommand):
    name = "inspect"
    help_msg = "Show a rock's layers, what each holds and the bytes it wastes"
    overview = (
        "Show ROCK's config in brief and its layers: size, compressed size, what each "
        "holds (a part, generated files, the base), files a later layer overwrites, "
        "duplicates or removes (wasted bytes), and what pruning against the base saved."
    )

    def fill_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("rock", type=Path, help="The .rock file")
        parser.add_argument(
            "--format", choices=("text", "json"), default="text", help="text or json"
        )
        parser.add_argument(
            "--sbom", action="store_true", help="Summarise the rock's SBOM instead of its layers"
        )

    def run(self, parsed_args: argparse.Namespace) -> int:
        from rockpack.oci.inspect_report import render_inspection

        if parsed_args.sbom:
            from rockpack.image.sbom.summary import render_sbom_summary

            emit.message(render_sbom_summary(parsed_args.rock, parsed_args.format))
            return 0
        emit.message(render_inspection(parsed_args.rock, parsed_args.format))
        return 0


class SbomCommand(BaseCommand):
    name = "sbom"
    help_msg = "Write a rock's SBOM (SPDX 2.3 JSON)"
    overview = (
        "Write the SPDX 2.3 JSON SBOM packed in ROCK (its base's and its parts' packages, "
        "with versions, licences and purls) to stdout, or to --output."
    )

    def fill_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("rock", type=Path, help="The .rock file")
        parser.add_argument(
            "-o", "--output", type=Path, help="File (or directory) to write the SBOM to"
        )

    def run(self, parsed_args: argparse.Namespace) -> int:
        from rockpack.image.sbom.summary import write_sbom

        emit.message(write_sbom(parsed_args.rock, parsed_args.output))
        return 0


class PushCommand(BaseCommand):
    name = "push"
    common = True
    help_msg = "Push a rock (or several, under one index) to a registry"
    overview = (
        "Push ROCK to REFERENCE (registry/repository[:tag]; the tag defaults to the rock's "
        "version) over the distribution API, without a daemon. Given several rocks, or a "
        "multi-platform one (pack --index), every image is pushed by digest and an index of "
        "them under the tag. Blobs the registry has are skipped. Credentials come from "
        "podman's or docker's auth files."
    )

    def fill_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("rocks", type=Path, nargs="+", metavar="rock", help="The .rock file(s)")
        parser.add_argument("reference", help="Where to push, e.g. ghcr.io/me/app:1.0")

    def run(self, parsed_args: argparse.Namespace) -> int:
        from rockpack.publish import push_rocks

        report = push_rocks(parsed_args.rocks, parsed_args.reference)
        emit.message(
            f"Pushed {report.reference}: {report.uploaded} blobs "
            f"uploaded ({report.uploaded_bytes / 1_000_000:.1f} MB), {report.present} already "
            f"there, {report.mounted} mounted."
            + (f" An index of: {'; '.join(report.images)}." if report.images else "")
        )
        return 0


class IndexCommand(BaseCommand):
    name = "index"
    help_msg = "Push a multi-platform index of images already in a registry"
    overview = (
        "Make an image index of the SOURCE images, each a manifest already in REFERENCE's "
        "registry (registry/repository@sha256:... or :tag, or just sha256:... in "
        "REFERENCE's repository; an index gives all its images), and push it as REFERENCE "
        "(registry/repository:tag). Only manifests and image configs are read: no layer is "
        "pulled. Images of another repository are linked in by blob mounts. This is how "
        "builders on several machines make one multi-architecture image."
    )

    def fill_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("reference", help="Where to push the index, e.g. ghcr.io/me/app:1.0")
        parser.add_argument(
            "sources", nargs="+", metavar="source", help="An image in that registry, by digest"
        )
        parser.add_argument(
            "--attestations",
            action="store_true",
            help="List each image's SBOM and provenance (its referrers) in the index too, as "
            "'pack --index' does for rocks packed with 'attestations: in-index'",
        )

    def run(self, parsed_args: argparse.Namespace) -> int:
        from rockpack.publish import assemble_index

        report = assemble_index(
            parsed_args.reference, parsed_args.sources, attestations=parsed_args.attestations
        )
        emit.message(f"Pushed {report.reference}, an index of: {'; '.join(report.images)}.")
        return 0


class LoadCommand(BaseCommand):
    name = "load"
    common = True
    help_msg = "Load a rock into podman or docker"
    overview = "Load ROCK into podman (or docker) as <name>:<version>."

    def fill_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("rock", type=Path, help="The .rock file")
        parser.add_argument(
            "--tool",
            choices=("podman", "docker"),
            help="Load into 'podman' or 'docker' (default: podman if installed, else docker)",
        )

    def run(self, parsed_args: argparse.Namespace) -> int:
        from rockpack.publish import load

        name = load(parsed_args.rock, parsed_args.tool)
        emit.message(f"Loaded {parsed_args.rock.name} as {name}.")
        return 0


class CleanCommand(BaseCommand):
    name = "clean"
    common = True
    help_msg = "Remove the project's build files"
    overview = (
        "Remove what the parts made (all of it, or only the named parts'), and the project's "
        "clean-build instance. --all also removes rockpack's cached LXD base instances and "
        "images."
    )

    def fill_parser(self, parser: argparse.ArgumentParser) -> None:
        _add_project_dir(parser)
        parser.add_argument("parts", nargs="*", help="Clean only these parts")
        parser.add_argument(
            "--all", action="store_true", help="Also remove cached LXD base instances and images"
        )

    def run(self, parsed_args: argparse.Namespace) -> int:
        from rockpack.build.clean import clean_project
        from rockpack.lxd.provider import clean_lxd

        project_dir = parsed_args.project_dir.resolve()
        if not parsed_args.parts:
            removed = clean_lxd(project_dir, everything=parsed_args.all)
            if removed:
                emit.message(removed)
        emit.message(clean_project(project_dir, parsed_args.parts))
        return 0


class InitCommand(BaseCommand):
    name = "init"
    common = True
    help_msg = "Create a starting rockpack.yaml"
    overview = "Write a small, valid rockpack.yaml in the project directory."

    def fill_parser(self, parser: argparse.ArgumentParser) -> None:
        _add_project_dir(parser)
        parser.add_argument("--name", help="The rock's name (default: the directory's name)")
        from rockpack.build.starter import PROFILES

        parser.add_argument(
            "--profile",
            default="simple",
            choices=PROFILES,
            help="What to start: 'simple' (a busybox rock) or a 12-factor app extension",
        )

    def run(self, parsed_args: argparse.Namespace) -> int:
        from rockpack.build.starter import init_project

        project_dir = parsed_args.project_dir.resolve()
        for line in init_project(project_dir, parsed_args.name, parsed_args.profile):
            emit.message(line)
        return 0


class ExpandExtensionsCommand(BaseCommand):
    name = "expand-extensions"
    help_msg = "Print the project with its extensions expanded"
    overview = "Validate the project file and print it as rockpack reads it."

    def fill_parser(self, parser: argparse.ArgumentParser) -> None:
        _add_project_dir(parser)

    def run(self, parsed_args: argparse.Namespace) -> int:
        loaded = _load(parsed_args)
        from rockpack.project.extensions import project_yaml

        emit.message(project_yaml(loaded.project.marshal()))
        return 0


class ListExtensionsCommand(BaseCommand):
    name = "list-extensions"
    help_msg = "List the extensions rockpack provides"
    overview = "List each extension, the bases it supports and its status there."

    def run(self, parsed_args: argparse.Namespace) -> int:
        from rockpack.project.extensions import extension_table

        emit.message(extension_table())
        return 0


class VersionCommand(BaseCommand):
    name = "version"
    help_msg = "Show rockpack's version"
    overview = "Show rockpack's version."

    def run(self, parsed_args: argparse.Namespace) -> int:
        emit.message(f"rockpack {__version__}")
        return 0


VERSION_FLAG = GlobalArgument(
    "version", "flag", "-V", "--version", "Show rockpack's version and exit"
)
COMMAND_GROUPS = [
    CommandGroup("Lifecycle", [*(_step_command(s) for s in STEP_NAMES), PackCommand, CleanCommand]),
    CommandGroup("Project", [InitCommand, ExpandExtensionsCommand, ListExtensionsCommand]),
    CommandGroup(
        "Publishing", [PushCommand, IndexCommand, LoadCommand, InspectCommand, SbomCommand]
    ),
    CommandGroup("Other", [VersionCommand]),
]


def _reader_gone() -> int:
    """End quietly, as ``cat`` does when the reader of its output closes the pipe."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # so flushing at exit cannot fail again
    emit.ended_ok()
    return EXIT_BROKEN_PIPE


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    signal.signal(signal.SIGTERM, _on_sigterm)
    emit.init(EmitterMode.BRIEF, "rockpack", f"Starting rockpack {__version__}")
    dispatcher = Dispatcher(
        "rockpack",
        COMMAND_GROUPS,
        summary="Pack declarative parts into reproducible OCI images (rocks).",
        extra_global_args=[VERSION_FLAG],
    )
    try:
        global_args = dispatcher.pre_parse_args(argv)
        if global_args.get("version"):
            emit.message(f"rockpack {__version__}")
            emit.ended_ok()
            return 0
        dispatcher.load_command(None)
        code = dispatcher.run() or 0
    except ProvideHelpException as help_exc:
        print(help_exc, file=sys.stderr)
        emit.ended_ok()
        return 0
    except ArgumentParsingError as err:
        if {"-V", "--version"} & set(argv):  # no command given: the flag alone is enough
            emit.message(f"rockpack {__version__}")
            emit.ended_ok()
            return 0
        print(err, file=sys.stderr)
        emit.ended_ok()
        return EXIT_USAGE
    except CraftError as err:
        emit.error(err)
        return err.retcode
    except KeyboardInterrupt:
        emit.error(RockpackError("Interrupted.", retcode=EXIT_INTERRUPTED))
        return EXIT_INTERRUPTED
    except Terminated:
        emit.error(RockpackError("Terminated.", retcode=EXIT_TERMINATED))
        return EXIT_TERMINATED
    except BrokenPipeError:  # the reader went away (`rockpack inspect ROCK | head`)
        return _reader_gone()
    except OSError as err:  # a full or read-only disk, a path that vanished
        emit.error(disk_error(err))
        return 1
    except RecursionError:
        emit.error(
            RockpackError(
                "An input is nested too deeply to read.",
                resolution="Check the project file and the base image for runaway nesting.",
            )
        )
        return 1
    except Exception as err:
        emit.error(
            CraftError(
                f"rockpack internal error: {err!r}",
                resolution="Please report this, with the log file named below.",
                retcode=EXIT_INTERNAL,
            )
        )
        return EXIT_INTERNAL
    emit.ended_ok()
    return code
