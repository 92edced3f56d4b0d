"""Report folders of campaigns named in any script stay apart."""

from __future__ import annotations

from reports.output import slug


def test_names_in_other_scripts_keep_their_letters_and_never_share_a_folder() -> None:
    names = ["春季活动", "夏季活动", "Весенняя кампания", "Летняя кампания", "حملة الربيع", "🎉", "🎊", "spring launch"]
    slugs = [slug(name) for name in names]
    assert len(set(slugs)) == len(names)
    assert slugs[0] == "春季活动" and slugs[2] == "Весенняя-кампания" and slugs[-1] == "spring-launch"
    assert all("/" not in s and not s.startswith(".") for s in slugs + [slug("../../etc/passwd"), slug(".x")])
