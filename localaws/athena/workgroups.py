"""GetWorkGroup for a workgroup that does not exist fails as Athena fails it (moto answers 200 with a null WorkGroup).

https://docs.aws.amazon.com/athena/latest/APIReference/API_GetWorkGroup.html (Errors: InvalidRequestException)
"""

from __future__ import annotations

from moto.backends import get_backend

from localaws.server import ACCOUNT_ID, LocalAws, Request, Response, json_error


def reject_missing_work_group(app: LocalAws):
    def validate(request: Request) -> Response | None:
        name = request.json().get("WorkGroup", "")
        with app.moto_lock:
            exists = name in get_backend("athena")[ACCOUNT_ID][request.route.region].work_groups
        if exists:
            return None
        return json_error("InvalidRequestException", f"WorkGroup {name} is not found.")

    return validate
