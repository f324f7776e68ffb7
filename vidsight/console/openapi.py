"""The OpenAPI 3.1 description of the JSON API, written by hand (served at /api/openapi.json)."""

from __future__ import annotations

from typing import Any

from schemas.records import SensorKind

_ERR = {"$ref": "#/components/schemas/Error"}
_422 = {
    "description": "bad input; detail names each field by its path",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Invalid"}}},
}
_RULES = [k.value for k in SensorKind if k is not SensorKind.UNKNOWN]
_401 = {"description": "no valid session (log in at /login)"}
_403 = {"description": "wrong CSRF token or foreign Origin"}


def _q(name: str, desc: str, enum: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "maxLength": 128}
    if enum:
        schema = {"type": "string", "enum": enum}
    return {"name": name, "in": "query", "required": False, "description": desc, "schema": schema}


def _json(ref: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}


_SENSOR_ID = {
    "name": "sensor_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"},
}

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "vidsight console API",
        "version": "1",
        "description": "Alerts, operator feedback, cameras and sensors. Every route needs a "
        "session cookie (POST /login); every PUT/POST needs the session's CSRF token in "
        "X-CSRF-Token (GET /api/session gives it).",
    },
    "components": {
        "securitySchemes": {
            "session": {"type": "apiKey", "in": "cookie", "name": "vidsight_session"},
            "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"},
        },
        "schemas": {
            "Error": {"type": "object", "properties": {"error": {"type": "string"}}},
            "Invalid": {
                "type": "object",
                "properties": {
                    "detail": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "loc": {"type": "array", "items": {"type": ["string", "integer"]}},
                                "msg": {"type": "string"},
                            },
                        },
                    }
                },
            },
            "Alert": {
                "type": "object",
                "description": "Avro field names of io.vidsight.v1.Alert, times in UTC "
                "microseconds, plus review (unreviewed | true_positive | false_positive)",
            },
            "AlertPage": {
                "type": "object",
                "properties": {
                    "alerts": {"type": "array", "items": {"$ref": "#/components/schemas/Alert"}},
                    "next_cursor": {"type": ["string", "null"]},
                },
            },
            "AlertDetail": {
                "type": "object",
                "properties": {
                    "alert": {"$ref": "#/components/schemas/Alert"},
                    "revisions": {"type": "array", "items": {"$ref": "#/components/schemas/Alert"}},
                    "frame_objects": {"type": "array", "items": {"type": "object"}},
                    "video": {
                        "type": ["object", "null"],
                        "description": "the recorded video covering the alert (start_ts, "
                        "end_ts in UTC micros, recorded_s, segments, clip URL); null when none",
                    },
                },
            },
            "FeedbackIn": {
                "type": "object",
                "required": ["alert_id", "action"],
                "additionalProperties": False,
                "properties": {
                    "alert_id": {"type": "string", "format": "uuid"},
                    "action": {"type": "string", "enum": ["confirm", "false_positive", "reopen"]},
                    "reason": {"type": "string", "maxLength": 200},
                    "note": {"type": "string", "maxLength": 2000},
                },
            },
            "Sensor": {
                "type": "object",
                "description": "A sensor in the YAML shape of `vidsight sensors apply` (id, "
                "camera, kind, points, direction, labels, ...), validated by the same code",
            },
        },
    },
    "security": [{"session": []}],
    "paths": {
        "/api/alerts": {
            "get": {
                "summary": "Alerts, newest first, filtered, paged by cursor",
                "parameters": [
                    _q("camera", "camera id"),
                    _q("sensor", "sensor id"),
                    _q("rule", "rule", _RULES),
                    _q("severity", "severity", ["low", "medium", "high", "critical"]),
                    _q("lifecycle", "lifecycle", ["new", "update", "end"]),
                    _q("review", "review state", ["unreviewed", "true_positive", "false_positive"]),
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 200},
                    },
                    _q("cursor", "next_cursor of the previous page"),
                ],
                "responses": {
                    "200": {"description": "a page", **_json("AlertPage")},
                    "401": _401,
                    "422": _422,
                },
            }
        },
        "/api/alerts/{alert_id}": {
            "get": {
                "summary": "One alert with its revisions and the detections of its evidence frame",
                "parameters": [
                    {
                        "name": "alert_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "format": "uuid"},
                    }
                ],
                "responses": {
                    "200": {"description": "the alert", **_json("AlertDetail")},
                    "404": {"description": "unknown alert"},
                    "401": _401,
                    "422": _422,
                },
            }
        },
        "/api/alerts/{alert_id}/clip.mp4": {
            "get": {
                "summary": "The recorded video of an alert (MP4, not re-encoded; at most 120 s)",
                "parameters": [
                    {
                        "name": "alert_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "format": "uuid"},
                    },
                    *(
                        {
                            "name": name,
                            "in": "query",
                            "required": False,
                            "schema": {"type": "number", "minimum": 0, "maximum": 60},
                            "description": f"seconds of video {when} the alert (default 5)",
                        }
                        for name, when in (("pre", "before"), ("post", "after"))
                    ),
                ],
                "responses": {
                    "200": {"description": "the clip (video/mp4; Range requests answered)"},
                    "404": {"description": "unknown alert, or no recorded video covers it"},
                    "401": _401,
                    "422": _422,
                    "429": {"description": "too many clips being cut at once"},
                },
            }
        },
        "/api/feedback": {
            "post": {
                "summary": "Publish an operator verdict (Feedback event on vidsight.feedback)",
                "security": [{"session": [], "csrf": []}],
                "requestBody": {"required": True, **_json("FeedbackIn")},
                "responses": {
                    "202": {"description": "published"},
                    "401": _401,
                    "403": _403,
                    "404": {"description": "unknown alert"},
                    "422": _422,
                },
            }
        },
        "/api/cameras": {
            "get": {
                "summary": "Cameras with latest evidence, open alerts and live read-model figures",
                "responses": {"200": {"description": "cameras"}, "401": _401},
            }
        },
        "/api/sensors": {
            "get": {
                "summary": "The sensors on the config topic",
                "parameters": [_q("camera", "only this camera's sensors")],
                "responses": {"200": {"description": "sensors"}, "401": _401, "422": _422},
            }
        },
        "/api/sensors/{sensor_id}": {
            "get": {
                "summary": "One sensor",
                "parameters": [_SENSOR_ID],
                "responses": {
                    "200": {"description": "the sensor"},
                    "404": {"description": "unknown"},
                },
            },
            "put": {
                "summary": "Validate and publish a sensor (as `vidsight sensors apply`)",
                "security": [{"session": [], "csrf": []}],
                "parameters": [
                    _SENSOR_ID,
                    {"name": "allow_move", "in": "query", "schema": {"type": "boolean"}},
                    {"name": "dry_run", "in": "query", "schema": {"type": "boolean"}},
                ],
                "requestBody": {"required": True, **_json("Sensor")},
                "responses": {
                    "200": {"description": "published (or valid, with dry_run)"},
                    "401": _401,
                    "403": _403,
                    "409": {"description": "would move the sensor"},
                    "422": _422,
                },
            },
        },
        "/api/sensors/{sensor_id}/backtest": {
            "post": {
                "summary": "What this sensor would have done over the last 24 h",
                "security": [{"session": [], "csrf": []}],
                "parameters": [_SENSOR_ID],
                "requestBody": {"required": True, **_json("Sensor")},
                "responses": {
                    "200": {"description": "the backtest report"},
                    "422": _422,
                    "501": {"description": "backtest not available in this build"},
                },
            }
        },
        "/api/session": {
            "get": {
                "summary": "The logged-in user and the session's CSRF token",
                "responses": {"200": {"description": "session"}, "401": _401},
            }
        },
        "/evidence": {
            "get": {
                "summary": "An evidence image of the configured bucket's evidence/ prefix",
                "parameters": [
                    {
                        "name": "uri",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "maxLength": 512},
                    }
                ],
                "responses": {
                    "200": {"description": "the image"},
                    "404": {"description": "none"},
                    "422": _422,
                },
            }
        },
        "/events": {
            "get": {
                "summary": "Server-Sent Events: one {type, alert|feedback} object per record",
                "responses": {"200": {"description": "text/event-stream"}, "401": _401},
            }
        },
    },
}
