"""The default plan and the names a step may use, read once from data."""

import functools
import json
from pathlib import Path

from api.reference.data import prompts, reflection_prompts

DEFAULT_PLAN_FILE = Path(__file__).resolve().parent / "default_plan.json"


@functools.cache
def prompt_texts():
    """Prompt id -> its text (the English prompts; a step names one)."""
    return {prompt["id"]: prompt["text"] for prompt in reflection_prompts()["prompts"]}


@functools.cache
def prompt_for_day(day):
    """The prompt an entry step without a `prompt_id` shows: the first, in file order, that suits the
    day after the session (the last prompt's range when none does)."""
    suiting = prompts(day=day, language="en")
    chosen = suiting[0] if suiting else max(prompts(language="en"), key=lambda prompt: prompt["days_to"])
    return chosen["id"], chosen["text"]


@functools.cache
def default_plan_data():
    return json.loads(DEFAULT_PLAN_FILE.read_text())
