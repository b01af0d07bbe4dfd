"""Which commits may have written an environment branch's release history: only single-parent commits of the bot."""

from __future__ import annotations

import pytest

from modelrail.errors import Refused
from modelrail.release import environment
from modelrail.release.environment import BOT_EMAIL, _require_release_commits

HISTORY = "releases/staging/history.jsonl"


def commit(repo, line: str, *options: str) -> str:
    """Append a line to the history and commit it (as the bot unless `options` say otherwise); the commit's sha."""
    path = repo / HISTORY
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text((path.read_text() if path.exists() else "") + line + "\n")
    environment.git(repo, "add", "releases")
    environment.git(repo, *options, "commit", "-qm", f"Promote {line}")
    return environment.git(repo, "rev-parse", "HEAD").stdout.strip()


@pytest.fixture
def repo(tmp_path):
    environment.git(tmp_path, "init", "-q", "-b", "main")
    environment.git(tmp_path, "commit", "-q", "--allow-empty", "-m", "start")
    environment.git(tmp_path, "checkout", "-q", "-b", "staging")
    return tmp_path


def refusal(repo) -> str:
    with pytest.raises(Refused) as caught:
        _require_release_commits(repo, "staging", "staging")
    return str(caught.value)


def test_lines_from_the_bots_own_commits_on_the_branch_pass(repo):
    commit(repo, "v1")
    commit(repo, "v2")
    _require_release_commits(repo, "staging", "staging")


def test_a_line_from_someone_elses_commit_names_its_author(repo):
    commit(repo, "v1")
    sha = commit(repo, "v2", "-c", "user.email=mallory@example.com")
    assert f"lines from commit {sha[:12]} (authored by mallory@example.com) were not written" in refusal(repo)
    assert f"(fix: revert commit {sha[:12]} on staging)" in refusal(repo)


def test_a_line_that_came_through_a_merge_names_the_merge(repo):
    environment.git(repo, "checkout", "-q", "main")
    commit(repo, "forged")  # as the bot, even, in a pull request to main
    environment.git(repo, "checkout", "-q", "staging")
    environment.git(repo, "merge", "-q", "--no-ff", "-m", "merge main", "main")
    merge = environment.git(repo, "rev-parse", "HEAD").stdout.strip()
    assert f"lines from commit {merge[:12]} (a merge) were not written by a release" in refusal(repo)


def test_a_line_from_a_commit_with_no_parent_is_not_called_a_merge(repo):
    # A branch started afresh (an orphan) whose first commit, by the bot even, brings a whole history.
    environment.git(repo, "checkout", "-q", "--orphan", "fresh")
    environment.git(repo, "rm", "-rq", "--cached", ".", check=False)
    root = commit(repo, "forged")
    environment.git(repo, "branch", "-qf", "staging", "fresh")
    assert BOT_EMAIL in environment.git(repo, "log", "-1", "--format=%ae", root).stdout
    assert f"lines from commit {root[:12]} (a commit with no parent) were not written" in refusal(repo)
