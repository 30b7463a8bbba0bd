"""Touches to the generated OpenAPI description."""


def uuid_path_ids(result, generator, request, public):
    """Objects are addressed by UUIDs: say so for every `id` and `*_id` path parameter."""
    for path in result.get("paths", {}).values():
        for operation in path.values():
            for param in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if param.get("in") == "path" and (param["name"] == "id" or param["name"].endswith("_id")):
                    param["schema"] = {"type": "string", "format": "uuid"}
    return result


SERVER_ACTIONS = ["servers_retrieve", "servers_partial_update", "servers_destroy", "servers_start_create",
                  "servers_stop_create", "servers_shutdown_create", "servers_reboot_create",
                  "servers_resize_create", "servers_reinstall_create"]


def _links(source, field):
    return {f"{target}": {"operationId": target, "parameters": {"id": f"$response.body#/{field}"}}
            for target in source}


def response_links(result, generator, request, public):
    """OpenAPI links: what a client (or schemathesis' stateful run) can do next with an answer's ids."""
    by_id = {
        operation["operationId"]: operation
        for path in result.get("paths", {}).values()
        for operation in path.values()
        if isinstance(operation, dict) and "operationId" in operation
    }
    for operation in by_id.values():
        accepted = operation["responses"].get("202")
        if accepted is not None:
            links = _links(["operations_retrieve"], "id")
            links.update(_links(SERVER_ACTIONS, "server"))
            accepted["links"] = links
    if "ssh_keys_create" in by_id:
        by_id["ssh_keys_create"]["responses"]["201"]["links"] = _links(["ssh_keys_retrieve", "ssh_keys_destroy"], "id")
    return result
