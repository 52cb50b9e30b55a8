-- evaltool.scorer: the catalog of built-in SQL scorers, read by score_run and the CLI.
CREATE OR REPLACE VIEW evaltool.scorer (name, version, arg, arg_required, arg_pattern, extension,
                                        description, compares_expected) AS
VALUES
    ('exact_match', '1', 'OPTIONS', false, '^((case|whitespace|punctuation|all)(,|$))*$', NULL::text,
     'output equals the expected answer after optional normalisation (case, whitespace, punctuation, all)', true),
    ('contains', '1', 'OPTIONS', false, '^((case|whitespace|punctuation|all)(,|$))*$', NULL,
     'output contains the expected answer after optional normalisation', true),
    ('regex', '1', 'PATTERN', false, '', NULL,
     'output matches PATTERN (or the expected string as a pattern)', false),
    ('json_valid', '1', NULL, false, '^$', NULL,
     'output is valid JSON', false),
    ('json_field_equals', '1', 'PATH', true, '^\S+$', NULL,
     'the output JSON''s value at PATH (e.g. answer.items.0) equals the expected one', true),
    ('numeric_close', '1', 'TOLERANCE', false, '^([0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?%?)?$', NULL,
     'the last number in the output is within TOLERANCE (absolute, or N% relative; default 1e-6) of the expected number', true),
    ('edit_similarity', '1', 'THRESHOLD', false, '^(0(\.[0-9]+)?|1(\.0*)?|\.[0-9]+)?$', NULL,
     '1 - Levenshtein distance / longer length; passed when >= THRESHOLD if given', true),
    ('trigram_similarity', '1', 'THRESHOLD', false, '^(0(\.[0-9]+)?|1(\.0*)?|\.[0-9]+)?$', 'pg_trgm',
     'pg_trgm similarity to the expected answer; passed when >= THRESHOLD if given', true),
    ('latency_under', '1', 'MS', true, '^[0-9]*\.?[0-9]+$', NULL,
     'the call succeeded within MS milliseconds', false),
    ('cost_under', '1', 'USD', true, '^[0-9]*\.?[0-9]+$', NULL,
     'the call succeeded at a cost of at most USD dollars', false);

COMMENT ON VIEW evaltool.scorer IS
    'Built-in SQL scorers: apply one with SELECT evaltool.score_run(RUN, NAME, ARG) or evaltool score RUN --metric NAME[:ARG]. Each is the function evaltool.scorer_NAME.';
COMMENT ON COLUMN evaltool.scorer.name IS 'Scorer name, as written in --metric NAME[:ARG].';
COMMENT ON COLUMN evaltool.scorer.version IS 'Scorer version, stored in score.scorer_version; bumped when its results change.';
COMMENT ON COLUMN evaltool.scorer.arg IS 'What ARG means for this scorer, NULL if it takes none.';
COMMENT ON COLUMN evaltool.scorer.arg_required IS 'Whether ARG must be given.';
COMMENT ON COLUMN evaltool.scorer.arg_pattern IS 'Regular expression a given ARG must match.';
COMMENT ON COLUMN evaltool.scorer.extension IS 'PostgreSQL extension the scorer needs, if any.';
COMMENT ON COLUMN evaltool.scorer.description IS 'What the scorer checks.';
COMMENT ON COLUMN evaltool.scorer.compares_expected IS 'Whether the scorer compares the output with the expected answer: only these can score against a reference run''s outputs instead (score_run''s reference, evaltool score --reference).';
