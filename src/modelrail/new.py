"""`modelrail new`: bake a model repo, asking each question with its default and help and checking each answer as it
is typed, with the template's own checks (hooks/pre_gen_project.py, imported, so the two can never disagree)."""

from __future__ import annotations

import json
import types
from collections.abc import Callable
from pathlib import Path

from modelrail.errors import ConfigError, ModelrailError

CHECKS_HOOK = "hooks/pre_gen_project.py"


def template_checkout() -> Path | None:
    """The template next to this package when modelrail runs from a checkout (an editable install)."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "cookiecutter.json").is_file() else None


def default_output_dir(template: Path, cwd: Path) -> Path:
    """The working directory, unless it is inside the template checkout: then next to the checkout, so that the new
    repository is not a nested git repository showing up in the checkout's `git status`."""
    return template.parent if cwd.resolve().is_relative_to(template.resolve()) else cwd


def load_checks(template: Path, questions: dict) -> types.ModuleType:
    """Render the template's pre-gen hook as cookiecutter would (its answers are not needed: only its functions are
    used) and import it."""
    from cookiecutter.environment import StrictEnvironment

    path = template / CHECKS_HOOK
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the template's answer checks ({error.strerror})") from error
    context = {"cookiecutter": {key: "" for key in questions}}
    rendered = StrictEnvironment(context=context, keep_trailing_newline=True).from_string(source).render(**context)
    module = types.ModuleType("modelrail_template_checks")
    module.__file__ = str(path)
    exec(compile(rendered, str(path), "exec"), module.__dict__)  # the template's own hook, as cookiecutter runs it
    return module


def ask(
    question: str,
    default: str,
    check: Callable[[str], object],
    errors: tuple[type[Exception], ...],
    read: Callable[[str], str] = input,
) -> str:
    """Ask until the answer passes `check`; an empty answer takes the default."""
    while True:
        try:
            answer = read(f"{question} [{default}]: ")
        except EOFError as error:
            raise ConfigError("input ended before every question was answered; nothing was written") from error
        answer = answer if answer.strip() else default
        try:
            check(answer)
        except errors as error:
            print(f"  ! {error}", flush=True)
            continue
        return answer


def package_name_for(default: str, check: Callable[[str], object], errors: tuple[type[Exception], ...]) -> str:
    """The derived package name, made valid when the slug alone gives a reserved name or a keyword (`test`,
    `class`): the default offered must always be an answer that passes."""
    for candidate in (default, f"{default}_model", "model_package"):
        try:
            check(candidate)
        except errors:
            continue
        return candidate
    return default


def prompt(template: Path, read: Callable[[str], str] = input) -> dict[str, str]:
    """Ask every question of cookiecutter.json in order; return the answers."""
    from cookiecutter.environment import StrictEnvironment
    from cookiecutter.prompt import render_variable

    config_path = template / "cookiecutter.json"
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigError(f"{config_path}: not a readable cookiecutter.json ({error})") from error
    questions = {key: value for key, value in config.items() if not key.startswith("_")}
    helps = config.get("__prompts__", {})
    checks = load_checks(template, questions)
    errors = (checks.AnswerError,)
    env = StrictEnvironment(context={"cookiecutter": config})
    answers: dict[str, str] = {}
    print(f"A new model repository from {template}. Press Enter to take the [default].", flush=True)
    for key, raw in questions.items():
        check = checks.ANSWER_CHECKS.get(key, lambda value: None)
        if isinstance(raw, list):  # a choice: the first option is the default
            options = [str(render_variable(env, option, answers)) for option in raw]
            default = options[0]
            question = f"{helps.get(key, key)} ({', '.join(options)})"
            check = choice_check(key, options, check, checks.AnswerError)
        else:
            default = str(render_variable(env, raw, answers))
            question = helps.get(key, key)
        if key == "package_name":
            default = package_name_for(default, check, errors)
        answers[key] = ask(question, default, check, errors, read)
    # Checks that involve several answers, or answers without a check of their own, after the last question.
    for error in checks.problems(answers):
        print(f"  ! {error}", flush=True)
        key = error.answer
        check = checks.ANSWER_CHECKS.get(key, lambda value: None)
        answers[key] = ask(helps.get(key, key), answers[key], check, errors, read)
    return answers


def choice_check(key: str, options: list[str], check: Callable, error_class: type) -> Callable[[str], None]:
    def check_choice(value: str) -> None:
        if value not in options:
            raise error_class(key, f"{value!r} is not one of the options", f"answer one of {', '.join(options)}")
        check(value)

    return check_choice


def run(template: Path | None, output_dir: Path | None, read: Callable[[str], str] = input) -> Path:
    """Ask, then bake with cookiecutter (its hooks check every answer again and print the next steps)."""
    from cookiecutter.exceptions import CookiecutterException, OutputDirExistsException
    from cookiecutter.main import cookiecutter

    template = template or template_checkout()
    if template is None:
        raise ConfigError("no template: this modelrail is not a checkout; pass --template PATH or a git URL's clone")
    if not (template / "cookiecutter.json").is_file():
        raise ConfigError(f"{template}: not a modelrail template (no cookiecutter.json)")
    output = output_dir or default_output_dir(template, Path.cwd())
    answers = prompt(template, read)
    print(f"Baking {answers['project_slug']} into {output}/ ...", flush=True)
    try:
        repo = cookiecutter(str(template), no_input=True, extra_context=answers, output_dir=str(output))
    except OutputDirExistsException as error:
        where = output / answers["project_slug"]
        raise ConfigError(f"{where} already exists; choose another slug or output folder") from error
    except CookiecutterException as error:
        # The hook has printed its own ERROR line; cookiecutter removed the half-made folder.
        raise ModelrailError(f"the bake failed ({error}); nothing was kept") from error
    return Path(repo)
