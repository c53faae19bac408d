"""Driving the 四不伤害 form through the harness, step by step (shared by the handler and access tests)."""
from __future__ import annotations

from itertools import count

_photo_ids = count(1)


def photo(unique: str | None = None) -> list[dict]:
    unique = unique or f"p{next(_photo_ids)}"
    return [{"file_id": f"small-{unique}", "file_unique_id": f"s{unique}", "width": 90, "height": 90},
            {"file_id": f"file-{unique}", "file_unique_id": unique, "width": 800, "height": 600}]


async def press(harness, user, text):
    return await harness.press(user, harness.button_data(text))


async def fill_until_hazards(harness, user):
    await harness.send(user, "/report")
    await harness.send(user, "本月巡视线路8次，完成2次停电检修")
    await harness.send(user, "登杆前检查安全带和脚扣")
    await harness.send(user, "11月3日发现安全带磨损，当场更换")
    await harness.send(user, "吊装作业时设置围栏，清场")
    await press(harness, user, "没有例子")
    await press(harness, user, "跳过")
    return await press(harness, user, "跳过")


async def add_hazard(harness, user, text="拉线松动", place="余山村3号杆", photos=1, urgency="较大"):
    await press(harness, user, "添加隐患")
    await harness.send(user, text)
    await harness.send(user, place)
    for _ in range(photos):
        await harness.send(user, None, photo=photo())
    await press(harness, user, "完成" if photos else "没有照片")
    return await press(harness, user, urgency)


async def finish_after_hazards(harness, user):
    await press(harness, user, "下一步")
    await press(harness, user, "添加违章")
    await harness.send(user, "有人未戴安全帽进入现场")
    await press(harness, user, "没有照片")
    await press(harness, user, "下一步")
    return await harness.send(user, "建议配发轻便验电器")


async def add_violation(harness, user, text="有人未戴安全帽进入现场", photo_unique: str | None = None):
    """From the violation list: one violation (with a photo, or without), back to the list."""
    await press(harness, user, "添加违章")
    await harness.send(user, text)
    if photo_unique is not None:
        return await harness.send(user, None, photo=photo(photo_unique))
    return await press(harness, user, "没有照片")


async def finish_after_violations(harness, user):
    await press(harness, user, "下一步")
    return await harness.send(user, "建议配发轻便验电器")
