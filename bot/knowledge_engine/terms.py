"""The term map: colloquial words of the field → the regulation's own terms.

Linemen type the words of the site (火线, 瓷瓶, 爬杆, 摇表); the documents use
the standard terms (相线, 绝缘子, 登杆, 绝缘电阻表).  The map is a data file in
the knowledge folder (``术语.yaml``) that admins extend: groups of
``口语: 规程用语`` lines, a value being one term, several separated by spaces,
or a list.  It is read and validated at every sync; a broken file is reported
with its line and the previous map stays in use, so a typo never switches the
expansion off.  A folder without the file simply has no expansion.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .normalize import match_form

TERM_FILE = "术语.yaml"
MAX_KEY_CHARS = 12  # a colloquial word or short phrase, not a sentence


class TermFileError(ValueError):
    """A term file that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class TermMap:
    mapping: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def keys_longest_first(self) -> list[str]:
        return sorted(self.mapping, key=len, reverse=True)

    def knows(self, word: str) -> bool:
        """Does the word contain a colloquial key (it is asked in the field's words, not unknown)?"""
        return any(key in word for key in self.mapping)

    def expand(self, question_match: str) -> list[str]:
        """Standard terms for the colloquial words found in a (match-form) question;
        a key inside a longer matched key does not count (火线 within 带电拆火线 …)."""
        found: list[str] = []
        covered = [False] * len(question_match)
        for key in self.keys_longest_first:
            start = 0
            while (pos := question_match.find(key, start)) >= 0:
                start = pos + 1
                if any(covered[pos : pos + len(key)]):
                    continue
                covered[pos : pos + len(key)] = [True] * len(key)
                for term in self.mapping[key]:
                    if term not in question_match and term not in found:
                        found.append(term)
        return found


EMPTY = TermMap()


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _terms(value: yaml.Node, where: str) -> tuple[str, ...]:
    if isinstance(value, yaml.ScalarNode):
        items = [value.value]
    elif isinstance(value, yaml.SequenceNode) and all(isinstance(v, yaml.ScalarNode) for v in value.value):
        items = [v.value for v in value.value]
    else:
        raise TermFileError(f"{where}：规程用语应是文字或文字列表")
    terms = tuple(match_form(t) for item in items for t in str(item).split())
    if not terms:
        raise TermFileError(f"{where}：规程用语为空")
    return terms


def parse_terms(text: str, name: str = TERM_FILE) -> TermMap:
    """Parse and validate a term file; raises TermFileError naming the line."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"第 {mark.line + 1} 行" if mark else "某处"
        raise TermFileError(f"{name} {line}：不是有效的 YAML（{getattr(exc, 'problem', exc)}）") from None
    if root is None:
        return EMPTY
    if not isinstance(root, yaml.MappingNode):
        raise TermFileError(f"{name} 第 {_line(root)} 行：应是「分组: {{口语: 规程用语}}」的结构")
    mapping: dict[str, tuple[str, ...]] = {}
    for group_key, group in root.value:
        if not isinstance(group, yaml.MappingNode):
            raise TermFileError(f"{name} 第 {_line(group_key)} 行：分组「{group_key.value}」下应是「口语: 规程用语」各占一行")
        for key_node, value in group.value:
            where = f"{name} 第 {_line(key_node)} 行"
            key = match_form(str(key_node.value)).strip()
            if not isinstance(key_node, yaml.ScalarNode) or not key:
                raise TermFileError(f"{where}：口语词为空")
            if len(key) > MAX_KEY_CHARS or any(ch.isspace() for ch in key):
                raise TermFileError(f"{where}：口语词「{key}」应是一个词（不超过 {MAX_KEY_CHARS} 个字，不含空格）")
            if key in mapping:
                raise TermFileError(f"{where}：口语词「{key}」重复出现")
            mapping[key] = _terms(value, where)
    return TermMap(mapping)


def load_terms(knowledge_dir: Path | str) -> TermMap:
    """The folder's term map (empty when it has no term file); raises TermFileError when broken."""
    path = Path(knowledge_dir) / TERM_FILE
    if not path.is_file():
        return EMPTY
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TermFileError(f"{TERM_FILE}：无法读取（{exc}）") from None
    return parse_terms(text)
