/// The API's own description, served at /openapi.yaml, with this server's limits.
enum OpenAPI {
    static func yaml(_ config: ServerConfiguration) -> String {
        // A downloaded image's headers and types, whole (200) or in part (206).
        let imageHeaders = """
                    ETag: { description: A hash of the bytes., schema: { type: string } }
                    Cache-Control: { description: "public (private when the API needs a token), max-age=31536000, immutable", schema: { type: string } }
                    Content-Disposition: { description: 'inline; filename="imgproc-ID.EXT"', schema: { type: string } }
                    Accept-Ranges: { schema: { type: string, enum: [bytes] } }
            """
        let imageContent = """
                    image/png: { schema: { type: string, format: binary } }
                    image/jpeg: { schema: { type: string, format: binary } }
                    image/webp: { schema: { type: string, format: binary } }
                    image/avif: { schema: { type: string, format: binary } }
            """
        return """
        openapi: 3.0.3
        info:
          title: imgproc
          version: "1.0"
          description: >
            Distributed image processing. Upload images with a pipeline of operations
            (e.g. grayscale,blur:2,canny:100:200), follow the jobs, download the results.
            When the server has a token, every /api request needs 'Authorization: Bearer TOKEN'.
            Every route answers HEAD where it answers GET, and OPTIONS; another method gets
            405 method_not_allowed with an Allow header.
        paths:
          /api/jobs:
            post:
              summary: Submit images, one job per image.
              description: >
                Errors: 400 bad_pipeline, bad_tile, bad_option, corrupt_image, empty_file, no_file; 403 cross_origin;
                408 upload_timeout; 413 too_large, too_many_pixels, too_many_files; 415 unknown_format,
                unsupported_format; 422 too_costly; 429 busy (Retry-After); 507 insufficient_storage.
              parameters:
                - { name: ops, in: query, required: false, schema: { type: string }, description: "The pipeline, when the body is a raw image or the form has no ops field." }
                - name: tile
                  in: query
                  required: false
                  description: N for NxN tiles or strips:N for full-width strips of N rows (16...4096). Left out, images up to 4 megapixels run whole on one rank and larger ones go in strips.
                  schema: { type: string, pattern: '^(strips:)?[0-9]+$' }
                - { name: format, in: query, required: false, schema: { type: string, enum: [png, jpeg, jpg, webp, avif, auto, source] }, description: "The results' format (default source: each original's); auto gives AVIF when the request's Accept names image/avif, else WebP when it names image/webp, else the original's." }
                - { name: quality, in: query, required: false, schema: { type: integer, minimum: 1, maximum: 100 }, description: "JPEG, WebP and AVIF quality of the results (default 90)." }
                - { name: png_level, in: query, required: false, schema: { type: integer, minimum: 0, maximum: 9 }, description: "deflate level of PNG results (libdeflate's), 0 (stored) to 9 (smallest, slowest); default 1." }
                - { name: dedupe, in: query, required: false, schema: { type: string, enum: ["true", "false"] }, description: "false runs the job even when a finished one had the same upload (default true)." }
                - { name: autorotate, in: query, required: false, schema: { type: string, enum: ["true", "false"] }, description: "false keeps the stored pixels; by default a photo is set upright by its EXIF orientation first." }
                - { name: keep_metadata, in: query, required: false, schema: { type: string, enum: ["true", "false"] }, description: "true keeps the source's EXIF, XMP and comments in the results; by default only its ICC colour profile is kept." }
                - { name: colorspace, in: query, required: false, schema: { type: string, enum: [srgb, source] }, description: "srgb converts the pixels to sRGB through the source's ICC profile (lcms2) and drops the profile; source (the default) keeps both." }
              requestBody:
                required: true
                content:
                  multipart/form-data:
                    schema:
                      type: object
                      required: [file]
                      properties:
                        ops: { type: string, example: "grayscale,blur:2,canny:100:200", description: "The pipeline: this field or ?ops= (one of them is needed; 400 bad_pipeline without)." }
                        tile: { type: string, pattern: '^(strips:)?[0-9]+$', description: 'N or strips:N, 16...4096' }
                        format: { type: string, enum: [png, jpeg, jpg, webp, avif, auto, source], description: "The results' format (default source: each original's); auto gives AVIF when the request's Accept names image/avif, else WebP when it names image/webp, else the original's." }
                        quality: { type: integer, minimum: 1, maximum: 100, description: "JPEG, WebP and AVIF quality of the results (default 90)." }
                        png_level: { type: integer, minimum: 0, maximum: 9, description: "deflate level of PNG results (libdeflate's), 0 (stored) to 9 (smallest, slowest); default 1." }
                        dedupe: { type: string, enum: ["true", "false"], description: "false runs the job even when a finished one had the same upload (default true)." }
                        autorotate: { type: string, enum: ["true", "false"], description: "false keeps the stored pixels (default true: set upright by the EXIF orientation)." }
                        keep_metadata: { type: string, enum: ["true", "false"], description: "true keeps EXIF, XMP and comments (default false: only the ICC colour profile is kept)." }
                        colorspace: { type: string, enum: [srgb, source], description: "srgb converts the pixels to sRGB through the source's ICC profile and drops it (default source)." }
                        file: { type: array, minItems: 1, maxItems: \(config.maxFiles), items: { type: string, format: binary } }
                  image/png: { schema: { type: string, format: binary } }
                  image/jpeg: { schema: { type: string, format: binary } }
                  image/webp: { schema: { type: string, format: binary } }
                  image/avif: { schema: { type: string, format: binary } }
                  application/octet-stream: { schema: { type: string, format: binary } }
              responses:
                "202":
                  description: Accepted; one entry per image.
                  content:
                    application/json:
                      schema:
                        type: object
                        properties:
                          jobs:
                            type: array
                            items:
                              type: object
                              properties:
                                id: { type: string }
                                status_url: { type: string }
                                result_url: { type: string }
                                events_url: { type: string }
                                page_url: { type: string }
                                status: { type: string, enum: [queued, done] }
                                deduplicated: { type: boolean, description: "The upload repeats a finished job's (same bytes, pipeline and output options): this is that job, done already." }
                  links:
                    job: { operationId: getJob, parameters: { id: "$response.body#/jobs/0/id" } }
                    events: { operationId: getJobEvents, parameters: { id: "$response.body#/jobs/0/id" } }
                    result: { operationId: getJobResult, parameters: { id: "$response.body#/jobs/0/id" } }
                    source: { operationId: getJobSource, parameters: { id: "$response.body#/jobs/0/id" } }
                "400": { $ref: "#/components/responses/Error" }
                "401": { $ref: "#/components/responses/Error" }
                "403": { $ref: "#/components/responses/Error" }
                "408": { $ref: "#/components/responses/Error" }
                "413": { $ref: "#/components/responses/Error" }
                "415": { $ref: "#/components/responses/Error" }
                "422": { $ref: "#/components/responses/Error" }
                "429": { $ref: "#/components/responses/Busy" }
                "507": { $ref: "#/components/responses/Error" }
            get:
              summary: Recent jobs.
              responses:
                "200": { description: The 20 newest jobs., content: { application/json: { schema: { type: object } } } }
                "401": { $ref: "#/components/responses/Error" }
          /api/jobs/{id}:
            parameters: [ { $ref: "#/components/parameters/id" } ]
            get:
              operationId: getJob
              summary: A job's status and progress.
              responses:
                "200": { description: The job., content: { application/json: { schema: { $ref: "#/components/schemas/Job" } } } }
                "401": { $ref: "#/components/responses/Error" }
                "404": { $ref: "#/components/responses/Error" }
                "410": { $ref: "#/components/responses/Error" }
          /api/jobs/{id}/events:
            parameters: [ { $ref: "#/components/parameters/id" } ]
            get:
              operationId: getJobEvents
              summary: Live progress as server-sent events, pushed as the job changes ('progress' events, then one 'done'), each carrying the job; a keep-alive comment every 5 s (--event-keep-alive) while nothing changes.
              responses:
                "200":
                  description: An event stream; each event's data is the job, as GET /api/jobs/{id} gives it.
                  content:
                    text/event-stream:
                      schema:
                        type: object
                        required: [event, data]
                        properties:
                          event: { type: string, enum: [progress, done] }
                          data: { type: string }
                "401": { $ref: "#/components/responses/Error" }
                "404": { $ref: "#/components/responses/Error" }
                "410": { $ref: "#/components/responses/Error" }
                "429": { $ref: "#/components/responses/Busy" }
          /api/jobs/{id}/result:
            parameters: [ { $ref: "#/components/parameters/id" } ]
            get:
              operationId: getJobResult
              summary: The processed image, in the original's format; cacheable for a year (it never changes), with ETag, If-None-Match (304) and one byte range (206).
              parameters: [ { $ref: "#/components/parameters/ifNoneMatch" }, { $ref: "#/components/parameters/range" }, { $ref: "#/components/parameters/ifRange" } ]
              responses:
                "200": { $ref: "#/components/responses/Image" }
                "206": { $ref: "#/components/responses/ImagePart" }
                "304": { $ref: "#/components/responses/NotModified" }
                "401": { $ref: "#/components/responses/Error" }
                "404": { $ref: "#/components/responses/Error" }
                "409": { $ref: "#/components/responses/Error" }
                "410": { $ref: "#/components/responses/Error" }
                "416": { $ref: "#/components/responses/BadRange" }
          /api/jobs/{id}/source:
            parameters: [ { $ref: "#/components/parameters/id" } ]
            get:
              operationId: getJobSource
              summary: The uploaded original, cached and ranged as the result is.
              parameters: [ { $ref: "#/components/parameters/ifNoneMatch" }, { $ref: "#/components/parameters/range" }, { $ref: "#/components/parameters/ifRange" } ]
              responses:
                "200": { $ref: "#/components/responses/Image" }
                "206": { $ref: "#/components/responses/ImagePart" }
                "304": { $ref: "#/components/responses/NotModified" }
                "401": { $ref: "#/components/responses/Error" }
                "404": { $ref: "#/components/responses/Error" }
                "410": { $ref: "#/components/responses/Error" }
                "416": { $ref: "#/components/responses/BadRange" }
          /:
            get:
              summary: The upload page.
              responses:
                "200": { description: HTML., content: { text/html: { schema: { type: string } } } }
          /jobs/{id}:
            parameters: [ { $ref: "#/components/parameters/id" } ]
            get:
              summary: A job's page (progress, then the result beside the original).
              responses:
                "200": { description: HTML., content: { text/html: { schema: { type: string } } } }
                "404": { $ref: "#/components/responses/Error" }
          /static/style.css:
            get:
              summary: The pages' style sheet.
              responses:
                "200": { description: CSS., content: { text/css: { schema: { type: string } } } }
          /static/app.js:
            get:
              summary: The pages' script.
              responses:
                "200": { description: JavaScript., content: { text/javascript: { schema: { type: string } } } }
          /openapi.yaml:
            get:
              summary: This description.
              responses:
                "200": { description: OpenAPI 3.0 YAML., content: { application/yaml: { schema: { type: string } } } }
          /healthz:
            get:
              summary: Whether Redis and RabbitMQ are reachable.
              responses:
                "200": { description: Both are., content: { application/json: { schema: { $ref: "#/components/schemas/Health" } } } }
                "503": { description: One is not (named)., content: { application/json: { schema: { $ref: "#/components/schemas/Health" } } } }
          /metrics:
            get:
              summary: Prometheus metrics (imgproc_*); with a token, it needs the token too unless --metrics-public.
              responses:
                "200": { description: Prometheus text., content: { text/plain: { schema: { type: string } } } }
                "401": { $ref: "#/components/responses/Error" }
        components:
          parameters:
            id: { name: id, in: path, required: true, schema: { type: string, pattern: "^[0-9a-f]{32}$" } }
            ifNoneMatch: { name: If-None-Match, in: header, required: false, description: "ETags seen before (or *): 304 when one matches.", schema: { type: string } }
            range: { name: Range, in: header, required: false, description: "One byte range (bytes=0-1023, bytes=1024-, bytes=-1024); several or a malformed one get the whole image.", schema: { type: string } }
            ifRange: { name: If-Range, in: header, required: false, description: "The range is served only when this is the image's ETag.", schema: { type: string } }
          responses:
            Image:
              description: The image.
              headers:
        \(imageHeaders)
              content:
        \(imageContent)
            ImagePart:
              description: The requested bytes of the image.
              headers:
        \(imageHeaders)
                Content-Range: { description: bytes FIRST-LAST/LENGTH, schema: { type: string } }
              content:
        \(imageContent)
            NotModified:
              description: The client's copy (If-None-Match) is current.
              headers:
                ETag: { schema: { type: string } }
                Cache-Control: { schema: { type: string } }
            BadRange:
              description: The range starts past the end of the image.
              headers:
                Content-Range: { description: "bytes */LENGTH", schema: { type: string } }
              content:
                application/json:
                  schema:
                    type: object
                    required: [error, message]
                    properties:
                      error: { type: string, example: bad_range }
                      message: { type: string }
            Error:
              description: An error.
              content:
                application/json:
                  schema:
                    type: object
                    required: [error, message]
                    properties:
                      error: { type: string, example: bad_pipeline }
                      message: { type: string }
            Busy:
              description: The server is busy; try again after Retry-After seconds.
              headers:
                Retry-After: { schema: { type: integer } }
              content:
                application/json:
                  schema:
                    type: object
                    required: [error, message]
                    properties:
                      error: { type: string, example: busy }
                      message: { type: string }
          schemas:
            Health:
              type: object
              properties:
                redis: { type: string }
                rabbitmq: { type: string }
            Job:
              type: object
              required: [id, status, progress, ops, links]
              properties:
                id: { type: string }
                status: { type: string, enum: [queued, running, done, failed] }
                progress: { type: object, properties: { done: { type: integer }, total: { type: integer } } }
                ops: { type: string }
                input: { type: object, properties: { width: { type: integer }, height: { type: integer }, channels: { type: integer } } }
                output: { type: object, properties: { width: { type: integer }, height: { type: integer }, channels: { type: integer } } }
                format: { type: string, enum: [png, jpeg, webp, avif] }
                orientation: { type: object, description: "The source's EXIF orientation (1 upright ... 8) and whether it was applied; its steps then lead ops.", properties: { exif: { type: integer, minimum: 1, maximum: 8 }, applied: { type: boolean } } }
                stage: { type: integer }
                stages: { type: integer }
                attempts: { type: integer }
                world: { type: integer }
                error: { type: string }
                created_at: { type: string, format: date-time }
                started_at: { type: string, format: date-time }
                finished_at: { type: string, format: date-time }
                timings_ms: { type: object, additionalProperties: { type: integer } }
                stored: { type: boolean }
                links: { type: object, additionalProperties: { type: string } }
                tiles: { type: object, properties: { columns: { type: integer }, rows: { type: integer }, ranks: { type: array, items: { type: integer } } } }
        """
    }
}
