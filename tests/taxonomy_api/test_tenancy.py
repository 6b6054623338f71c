"""Another organisation's token never reaches this organisation's taxonomy, on any route."""

from services.taxonomy_api.db.tables import TaxonomyVersion
from services.taxonomy_api.domain import import_jobs
from services.taxonomy_api.domain.organisations import create_client
from services.taxonomy_api.domain.people import add_user
from tests.tenancy import TenantWalk, authenticated_routes, walk_every_authenticated_route


async def test_every_authenticated_route_is_scoped_to_the_callers_organisation(
    client, taxonomy_app, demo, org, new_org, bearer, identity_provider
):
    intruder_org = await new_org("intruder")
    async with taxonomy_app.state.database.sessions() as session:
        owner_client, _ = await create_client(session, org, "owner client", ["taxonomy:read"])
        owner_user = await add_user(session, org, email="owner.person@example.com", name="Owner Person", role="analyst")
        owner_job = await import_jobs.create_job(
            session, org, "csv", {}, actor="owner", uploads=[("owner-skills.csv", b"external_id,name\n")]
        )
        owner_version = TaxonomyVersion(org_id=org, number=1, status="in_review", title="owner version")
        session.add(owner_version)
        await session.commit()
    owner = bearer(org)
    identity_provider.clients.update({"owner-sso-client": "owner sso secret", "intruder-sso-client": "x"})
    owner_sso = {
        "issuer": identity_provider.issuer,
        "client_id": "owner-sso-client",
        "client_secret": "owner sso secret",
    }
    assert (await client.put("/v1/identity-provider", json=owner_sso, headers=owner)).status_code == 200
    listing = (await client.get("/v1/scales", headers=owner)).json()["items"]
    scale_id = listing[0]["id"]
    capability_id = (await client.get("/v1/capabilities", headers=owner)).json()["items"][0]["id"]
    role_id = (await client.get("/v1/roles", headers=owner)).json()["items"][0]["id"]
    pathway_id = (await client.get("/v1/pathways", headers=owner)).json()["items"][0]["id"]
    skill_id = str(demo["Active listening"])
    badge_id = str(demo["badge:Active listening"])
    item = {
        "/v1/scales/{item_id}": scale_id,
        "/v1/capabilities/{item_id}": capability_id,
        "/v1/skills/{item_id}": skill_id,
        "/v1/roles/{item_id}": role_id,
        "/v1/achievements/{item_id}": badge_id,
        "/v1/pathways/{item_id}": pathway_id,
        "/v1/pathways/{item_id}/progress": pathway_id,
        "/v1/clients/{item_id}": str(owner_client.id),
        "/v1/users/{item_id}": str(owner_user.id),
    }
    scale_body = {"name": "Intruder scale", "levels": [{"value": 1, "name": "one"}]}
    skill_body = {"name": "Intruder skill", "scale_id": scale_id, "capability_id": capability_id}
    role_body = {"name": "Intruder role", "requirements": [{"skill_id": skill_id, "level": 1}]}
    achievement_body = {
        "name": "Intruder badge",
        "criteria_narrative": "x",
        "tier": "foundational",
        "skills": [{"skill_id": skill_id, "level": 1}],
        "result_description": {"kind": "score", "pass_mark": 1, "max_score": 2},
    }
    pathway_body = {"name": "Intruder pathway", "steps": [{"achievement_id": badge_id}]}
    bodies = {}
    for collection, body in (
        ("/v1/scales", scale_body),
        ("/v1/capabilities", {"name": "Intruder capability"}),
        ("/v1/skills", skill_body),
        ("/v1/roles", role_body),
        ("/v1/achievements", achievement_body),
        ("/v1/pathways", pathway_body),
    ):
        bodies[("POST", collection)] = body
        bodies[("PUT", f"{collection}/{{item_id}}")] = body
    bodies[("POST", "/v1/clients")] = {"name": "Intruder client", "scopes": ["admin"]}
    bodies[("POST", "/v1/users")] = {"email": "intruder.person@example.com", "name": "Intruder", "role": "admin"}
    bodies[("PATCH", "/v1/users/{item_id}")] = {"role": "admin"}
    # The intruder may set up its own organisation's provider; it must never see or touch the owner's.
    bodies[("PUT", "/v1/identity-provider")] = {**owner_sso, "client_id": "intruder-sso-client", "client_secret": "x"}
    bodies[("POST", "/v1/imports")] = {"kind": "csv", "paths": ["/etc/hostname"]}
    bodies[("POST", "/v1/imports/uploads")] = {"kind": "csv"}
    bodies[("PUT", "/v1/review-policy")] = {"criteria": [], "required_approvals": 1}
    bodies[("POST", "/v1/versions/draft/submit")] = {"title": "Intruder version"}
    bodies[("POST", "/v1/versions/{version_id}/reviews")] = {"decision": "approve"}
    markers = {
        str(org),
        str(owner_job.id),
        "owner-skills.csv",
        skill_id,
        badge_id,
        scale_id,
        capability_id,
        role_id,
        pathway_id,
        owner_client.client_id,
    }
    markers |= {str(owner_user.id), owner_user.email, "owner-sso-client", "owner sso secret"}
    markers |= {str(value) for value in demo.values()}

    walked = await walk_every_authenticated_route(
        client,
        taxonomy_app,
        TenantWalk(
            owner_headers=owner,
            intruder_headers=bearer(intruder_org),
            path_params={template: {"item_id": value} for template, value in item.items()}
            | {"/v1/imports/{job_id}": {"job_id": str(owner_job.id)}}
            | {"/v1/versions/{version}/export": {"version": str(owner_version.id)}}
            | {"/v1/versions/{version}": {"version": str(owner_version.id)}}
            | {
                path: {"version_id": str(owner_version.id)}
                for path in ("/v1/versions/{version_id}/reviews", "/v1/versions/{version_id}/publish")
            }
            | {
                "/v1/versions/{version_a}/diff/{version_b}": {
                    "version_a": str(owner_version.id),
                    "version_b": str(owner_version.id),
                }
            }
            | {
                "/v1/versions/{version}/{kind}/{entity_id}": {
                    "version": str(owner_version.id),
                    "kind": "skills",
                    "entity_id": skill_id,
                }
            },
            bodies=bodies,
            owner_markers=markers,
            owner_objects=[
                template.replace("{item_id}", value)
                for template, value in item.items()
                if template.startswith("/v1/") and "clients" not in template and "users" not in template
            ]
            + ["/v1/identity-provider", f"/v1/imports/{owner_job.id}", f"/v1/versions/{owner_version.id}"],
        ),
    )
    assert walked == len(authenticated_routes(taxonomy_app)) >= 30
