"""A reduced EDMX `$metadata` document for a form, shaped like Central's: the submission
metadata type, the Submissions entity, complex types for groups, and navigation
properties for repeats."""

from __future__ import annotations

from html import escape

from tests.doubles.central.model import Form
from tests.doubles.central.xforms import Field, sanitize_identifier

_TYPES = {
    "int": "Edm.Int64",
    "decimal": "Edm.Decimal",
    "boolean": "Edm.Boolean",
    "geopoint": "Edm.GeographyPoint",
    "geotrace": "Edm.GeographyLineString",
    "geoshape": "Edm.GeographyPolygon",
    "date": "Edm.Date",
    "dateTime": "Edm.DateTimeOffset",
}


def edmx(form: Form) -> str:
    """The `$metadata` document of the form's current version."""
    base = f"org.opendatakit.user.{sanitize_identifier(form.xml_form_id)}"
    complex_types: list[str] = []

    def props(fields: tuple[Field, ...]) -> list[str]:
        out = []
        for field in fields:
            name = sanitize_identifier(field.name)
            type_name = ".".join(sanitize_identifier(p) for p in field.path.strip("/").split("/"))
            if field.type == "structure":
                complex_types.append(
                    f'      <ComplexType Name="{type_name}">\n'
                    + "".join(f"        {p}\n" for p in props(field.children))
                    + "      </ComplexType>\n"
                )
                out.append(f'<Property Name="{name}" Type="{base}.{type_name}"/>')
            elif field.type == "repeat":
                out.append(
                    f'<NavigationProperty Name="{name}" '
                    f'Type="Collection({base}.Submissions.{type_name})"/>'
                )
            else:
                out.append(
                    f'<Property Name="{name}" Type="{_TYPES.get(field.type, "Edm.String")}"/>'
                )
        return out

    submission_props = props(form.current.info.fields)
    meta = "".join(
        f'        <Property Name="{n}" Type="{t}"/>\n'
        for n, t in (
            ("submissionDate", "Edm.DateTimeOffset"),
            ("updatedAt", "Edm.DateTimeOffset"),
            ("deletedAt", "Edm.DateTimeOffset"),
            ("submitterId", "Edm.String"),
            ("submitterName", "Edm.String"),
            ("attachmentsPresent", "Edm.Int64"),
            ("attachmentsExpected", "Edm.Int64"),
            ("status", "org.opendatakit.submission.Status"),
            ("reviewState", "org.opendatakit.submission.ReviewState"),
            ("deviceId", "Edm.String"),
            ("edits", "Edm.Int64"),
            ("formVersion", "Edm.String"),
        )
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">\n'
        "  <edmx:DataServices>\n"
        '    <Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" '
        'Namespace="org.opendatakit.submission">\n'
        f'      <ComplexType Name="metadata">\n{meta}      </ComplexType>\n'
        '      <EnumType Name="Status">\n        <Member Name="notDecrypted"/>\n'
        '        <Member Name="missingEncryptedFormData"/>\n      </EnumType>\n'
        '      <EnumType Name="ReviewState">\n        <Member Name="hasIssues"/>\n'
        '        <Member Name="edited"/>\n        <Member Name="rejected"/>\n'
        '        <Member Name="approved"/>\n      </EnumType>\n    </Schema>\n'
        f'    <Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="{base}">\n'
        '      <EntityType Name="Submissions">\n        <Key><PropertyRef Name="__id"/></Key>\n'
        '        <Property Name="__id" Type="Edm.String"/>\n'
        '        <Property Name="__system" Type="org.opendatakit.submission.metadata"/>\n'
        + "".join(f"        {p}\n" for p in submission_props)
        + "      </EntityType>\n"
        + "".join(complex_types)
        + f'      <EntityContainer Name="{escape(form.xml_form_id)}">\n'
        f'        <EntitySet Name="Submissions" EntityType="{base}.Submissions"/>\n'
        "      </EntityContainer>\n    </Schema>\n  </edmx:DataServices>\n</edmx:Edmx>"
    )
