from __future__ import annotations

import pytest
from django.test import Client

from gathering.transparency import merkle, services

pytestmark = pytest.mark.django_db

BASE = "/api/transparency"


def leaf(i: int) -> bytes:
    return b'{"campaign":"voices-2026","country":"IR","id":"s%d","salt":"%032x","v":1}' % (i, i)


@pytest.fixture
def log():
    log = services.get_or_create_log(slug="voices-2026")
    for i in range(11):
        services.queue_entry(log=log, data=leaf(i))
    services.integrate(log=log, limit=6)  # heads of sizes 0, 6 and 11
    services.integrate(log=log)
    return log


def get(client: Client, path: str, **headers: str):
    return client.get(BASE + path, headers=headers)


def keys(client: Client) -> dict[int, bytes]:
    return merkle.parse_public_keys(get(client, "/keys").json())


def test_tree_head_is_signed_and_cacheable(client: Client, log) -> None:
    response = get(client, f"/logs/{log.slug}/tree-head")
    assert response.status_code == 200
    head = merkle.TreeHead.from_json(response.json())
    assert head.size == 11 and head.log == log.slug
    merkle.check_tree_head(head, keys(client))
    assert response["Cache-Control"] == "public, max-age=1"
    again = get(client, f"/logs/{log.slug}/tree-head", if_none_match=response["ETag"])
    assert again.status_code == 304 and again["ETag"] == response["ETag"]
    assert again.content == b""


def test_tree_head_history_pages(client: Client, log) -> None:
    first = get(client, f"/logs/{log.slug}/tree-heads?limit=2").json()
    assert [h["size"] for h in first["tree_heads"]] == [0, 6]
    assert first["next_since"] == 7
    rest = get(client, f"/logs/{log.slug}/tree-heads?since=7&limit=2").json()
    assert [h["size"] for h in rest["tree_heads"]] == [11]
    assert rest["next_since"] is None


def test_inclusion_proof_verifies_against_the_head(client: Client, log) -> None:
    head = merkle.TreeHead.from_json(get(client, f"/logs/{log.slug}/tree-head").json())
    receipt = merkle.Receipt(log=log.slug, index=4, data=leaf(4))
    response = get(client, f"/logs/{log.slug}/proof/inclusion?index=4&tree_size=11")
    assert response.status_code == 200
    assert "immutable" in response["Cache-Control"]
    body = response.json()
    assert body["leaf_hash"] == receipt.leaf_hash.hex()
    merkle.verify_receipt(receipt, head, merkle.InclusionProof.from_json(body), keys(client))
    latest = get(client, f"/logs/{log.slug}/proof/inclusion?index=4").json()
    assert latest["tree_size"] == 11


def test_consistency_proof_verifies_between_heads(client: Client, log) -> None:
    heads = [
        merkle.TreeHead.from_json(h)
        for h in get(client, f"/logs/{log.slug}/tree-heads").json()["tree_heads"]
    ]
    for old in heads:
        for new in heads:
            if old.size <= new.size:
                body = get(
                    client, f"/logs/{log.slug}/proof/consistency?first={old.size}&second={new.size}"
                ).json()
                merkle.verify_tree_heads(
                    old, new, merkle.ConsistencyProof.from_json(body), keys(client)
                )


def test_entry_gives_the_leaf_data(client: Client, log) -> None:
    body = get(client, f"/logs/{log.slug}/entries/3").json()
    data = bytes.fromhex(body["data"])
    assert data == leaf(3)
    assert body["leaf_hash"] == merkle.leaf_hash(data).hex()
    assert get(client, f"/logs/{log.slug}/entries/11").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/logs/nope/tree-head",
        "/logs/nope/tree-heads",
        "/logs/nope/proof/inclusion?index=0",
        "/logs/nope/proof/consistency?first=0",
        "/logs/nope/entries/0",
        "/logs/%E2%80%AEevil/tree-head",
        "/logs/" + "a" * 5000 + "/tree-head",
        "/logs/%3Cscript%3E/tree-head",
    ],
)
def test_unknown_logs_are_404(client: Client, log, path: str) -> None:
    response = get(client, path)
    assert response.status_code == 404
    assert response.json()["detail"]


@pytest.mark.parametrize(
    "query",
    [
        "proof/inclusion",
        "proof/inclusion?index=abc",
        "proof/inclusion?index=-1",
        "proof/inclusion?index=1e3",
        "proof/inclusion?index=0&tree_size=x",
        "proof/inclusion?index=99999999999999999999999999999",
        "proof/inclusion?index=11",  # not below the size
        "proof/inclusion?index=0&tree_size=12",  # beyond the tree
        "proof/inclusion?index=0&tree_size=0",
        "proof/inclusion?index=%E2%80%8B1",
        "proof/consistency",
        "proof/consistency?first=7&second=6",
        "proof/consistency?first=0&second=12",
        "proof/consistency?first=12",
        "proof/consistency?first=-5",
        "proof/consistency?first=<script>",
        "tree-heads?since=-1",
        "tree-heads?limit=0",
        "tree-heads?limit=100000",
        "entries/-1",
        "entries/99999999999999999999999999",
    ],
)
def test_bad_parameters_are_400_with_a_message(client: Client, log, query: str) -> None:
    response = get(client, f"/logs/{log.slug}/{query}")
    assert response.status_code == 400
    assert response.json()["detail"]


def test_errors_are_translated(client: Client, log) -> None:
    response = client.get(
        f"{BASE}/logs/{log.slug}/proof/inclusion?index=0&tree_size=12",
        headers={"accept-language": "fr"},
    )
    assert response.status_code == 400
    assert response.json()["detail"]


def test_keys_list_every_key(client: Client, log) -> None:
    body = get(client, "/keys").json()
    assert body["keys"] and all(key["algorithm"] == "Ed25519" for key in body["keys"])
    assert all(len(bytes.fromhex(key["public_key"])) == 32 for key in body["keys"])


def test_openapi_documents_the_transparency_endpoints(client: Client) -> None:
    paths = client.get("/api/openapi.json").json()["paths"]
    for path in [
        "/api/transparency/keys",
        "/api/transparency/logs/{slug}/tree-head",
        "/api/transparency/logs/{slug}/tree-heads",
        "/api/transparency/logs/{slug}/proof/inclusion",
        "/api/transparency/logs/{slug}/proof/consistency",
        "/api/transparency/logs/{slug}/entries/{index}",
    ]:
        assert path in paths


def test_writes_are_not_allowed(client: Client, log) -> None:
    response = client.post(
        f"{BASE}/logs/{log.slug}/tree-head", data="{}", content_type="application/json"
    )
    assert response.status_code == 405
