"""Question normalisation: clean-up, truncation and colloquial→regulation terms.

Linemen type the words of the site ("火线", "瓷瓶", "爬杆", "千伏"); the
regulations use the standard terms ("相线", "绝缘子", "登杆", "kV").  A small,
general domain map appends the standard term to the question (the original
words stay), which helps both the bigram index (shared bigrams appear) and
the dense model (the standard term is closer to the clause wording).  The map
lists field vocabulary in general, not answers to particular questions.
"""
from __future__ import annotations

import re
import unicodedata

from .normalize import match_form

MAX_QUERY_CHARS = 200

# colloquial / short form → standard regulation wording (appended, not replaced)
SYNONYMS: dict[str, str] = {
    # people and roles
    "班长": "工作负责人",
    "负责人": "工作负责人",
    "监护人": "专责监护人",
    "领导": "工作票签发人",
    "外包": "外单位",
    "新来的": "新参加工作的人员",
    "新员工": "新参加工作的人员",
    "实习": "实习人员",
    "临时工": "临时工",
    # tickets and procedures
    "票": "工作票",
    "抢修票": "紧急抢修工作票",
    "操作票": "倒闸操作票",
    "延期": "工作延期手续",
    "踏勘": "现场勘察",
    "勘察": "现场勘察",
    "交底": "安全交代",
    "开工": "工作许可",
    "收工": "工作终结",
    "完工": "工作终结",
    "送电": "恢复送电",
    "约好": "约时停送电",
    "约时": "约时停送电",
    "倒闸": "倒闸操作",
    "拉闸": "断开断路器",
    "合闸": "合上断路器",
    "调度": "调度",
    # equipment
    "火线": "相线",
    "零线": "中性线 零线",
    "开关": "断路器",
    "刀闸": "隔离开关",
    "瓷瓶": "绝缘子",
    "瓷瓶子": "绝缘子",
    "地线": "接地线",
    "接地棒": "接地线",
    "线杆": "杆塔",
    "电杆": "杆塔",
    "电线杆": "杆塔",
    "铁塔": "杆塔",
    "杆子": "杆塔",
    "变压器": "变压器",
    "台变": "配电变压器",
    "配变": "配电变压器",
    "表箱": "计量箱",
    "电表": "电能表",
    "ct": "电流互感器",
    "pt": "电压互感器",
    "分支箱": "电缆分支箱",
    "环网柜": "环网柜",
    "开关柜": "开关柜",
    "空线": "空载线路",
    "空载": "空载线路",
    "把手": "操作把手",
    "挂牌": "标示牌",
    "牌子": "标示牌",
    "牌": "标示牌",
    "绝缘线": "绝缘导线",
    "导线": "导线",
    "拉线": "拉线",
    "钢卷尺": "金属卷尺 皮卷尺",
    "卷尺": "皮卷尺",
    "梯子": "梯子",
    "安全绳": "安全带 后备保护绳",
    "保险带": "安全带",
    "脚扣": "脚扣",
    "斗臂车": "绝缘斗臂车",
    "吊车": "起重机",
    "sf6": "六氟化硫",
    "药": "化学药品 试剂",
    "井盖": "井盖 电缆井",
    # actions and situations
    "干活": "工作 作业",
    "上手": "参加工作",
    "爬杆": "登杆",
    "上杆": "登杆",
    "查": "检查",
    "爬": "攀登",
    "登高": "高处作业",
    "高空": "高处作业",
    "多高": "高处作业 坠落高度",
    "溜": "下滑",
    "拴": "固定 绑",
    "绑": "固定",
    "歇": "休息",
    "挖坑": "挖坑",
    "坑": "基坑",
    "砍树": "砍剪树木",
    "砍": "砍剪",
    "树": "树木",
    "手碰": "接触",
    "碰": "接触",
    "摸": "接触",
    "量": "测量",
    "测": "测量",
    "拆线": "断线 拆除",
    "接线": "搭接 接线",
    "带电干": "带电作业",
    "带电": "带电",
    "隔多远": "安全距离",
    "离多远": "安全距离",
    "多远": "安全距离",
    "距离": "安全距离",
    "退重合闸": "停用重合闸",
    "重合闸": "重合闸",
    "跳了": "跳闸",
    "跳闸": "跳闸",
    "二次": "二次系统 二次回路",
    "耐压": "耐压试验",
    "打雷": "雷电",
    "雷雨": "雷电",
    "下雨": "雨天",
    "刮风": "大风",
    "大风": "大风",
    "下雪": "雪天",
    "大雾": "雾天",
    "晚上": "夜间",
    "夜里": "夜间",
    "着火": "火灾",
    "冒烟": "火灾",
    "起火": "火灾",
    "触电": "触电",
    "电着": "触电",
    "喝酒": "饮酒",
    "中毒": "中毒",
    "漏气": "泄漏",
    "漏": "泄漏",
    "冒险": "强令冒险",
    "硬让": "强令",
    "不干": "拒绝",
    "违章指挥": "违章指挥 强令冒险",
    "验电": "验电",
    "停电": "停电",
    "伞": "雨伞",
    "横穿": "穿越",
    "穿过": "穿越",
    "开盖": "打开井盖",
    "多久": "时间",
    "多长时间": "时间",
    "最长": "不超过",
    "几片": "片数",
    "几个人": "人数",
    "一个人": "单人",
    "单独": "单人",
    "几米": "距离",
    "公里": "km",
    "千伏": "kv",
    "伏": "v",
    "高压": "高压",
    "低压": "低压",
    "安规": "安全工作规程",
}
_KEYS = sorted(SYNONYMS, key=len, reverse=True)
_EMOJI = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\uFE0F\u200d]")


def clean_question(question: str) -> str:
    """Strip emoji and control characters, collapse spaces, cap the length.

    A pasted 10,000-character text is cut to its first sentences (MAX_QUERY_CHARS):
    the question is at its start far more often than at its end.
    """
    q = _EMOJI.sub(" ", question or "")
    q = "".join(ch for ch in q if unicodedata.category(ch)[0] != "C" or ch in "\n\t")
    q = re.sub(r"\s+", " ", q).strip()
    if len(q) > MAX_QUERY_CHARS:
        cut = q[:MAX_QUERY_CHARS]
        m = re.search(r"^.*[。？?！!；;]", cut)
        q = m.group(0) if m and len(m.group(0)) >= 20 else cut
    return q


def expand(question_match: str) -> list[str]:
    """Standard terms for colloquial words found in a (match-form) question."""
    found: list[str] = []
    covered = [False] * len(question_match)
    for key in _KEYS:
        start = 0
        while True:
            pos = question_match.find(key, start)
            if pos < 0:
                break
            start = pos + 1
            if any(covered[pos : pos + len(key)]):
                continue  # part of a longer key already matched
            for i in range(pos, pos + len(key)):
                covered[i] = True
            term = SYNONYMS[key]
            if term not in question_match and term not in found:
                found.append(term)
    return found


def prepare(question: str) -> tuple[str, str, list[str]]:
    """Return (clean question, match form, expansion terms)."""
    q = clean_question(question)
    m = match_form(q)
    return q, m, expand(m)
