/// The OpenAPI 3.1 description of the admin API, served at `/admin/api/openapi.json`.
enum OpenAPI {
    static let document = #"""
{}
"""#
}
