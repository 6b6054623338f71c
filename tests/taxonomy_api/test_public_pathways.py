"""The public pathway reads a wallet shown without an API token relies on: the same pathways and the
same progress as the authenticated routes."""

import uuid


async def test_an_achievements_pathways_and_progress_are_public_and_match_the_api(client, headers, demo):
    step = demo["badge:Active listening"]
    public = await client.get(f"/v1/public/achievements/{step}/pathways")
    assert public.status_code == 200, public.text
    [pathway] = public.json()["items"]
    authenticated = await client.get(f"/v1/pathways/{pathway['id']}", headers=headers)
    assert pathway == authenticated.json()
    for held in ([], [str(step)], [str(step), str(demo["badge:Conflict navigation"])]):
        url = f"/v1/pathways/{pathway['id']}/progress"
        open_answer = await client.get(f"/v1/public{url.removeprefix('/v1')}", params={"held": held})
        assert open_answer.status_code == 200
        assert open_answer.json() == (await client.get(url, params={"held": held}, headers=headers)).json()
    # The capstone is no step of the pathway: it lists none.
    capstone = pathway["capstone_achievement_id"]
    assert (await client.get(f"/v1/public/achievements/{capstone}/pathways")).json() == {"items": []}


async def test_unknown_ids_are_404(client, demo):
    assert (await client.get(f"/v1/public/achievements/{uuid.uuid4()}/pathways")).status_code == 404
    assert (await client.get(f"/v1/public/pathways/{uuid.uuid4()}/progress")).status_code == 404
    assert (await client.get("/v1/public/pathways/not-an-id/progress")).status_code == 422
