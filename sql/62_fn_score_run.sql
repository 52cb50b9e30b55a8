-- requires: 0010_score_history
-- requires: 0013_partition_by_run
-- evaltool.score_run: applies one built-in scorer to every response of a run, against the
-- test cases' expected answers or, given a reference run, against that run's outputs.
-- evaltool.reference_answer: a reference run's response as the expected answer.

CREATE OR REPLACE FUNCTION evaltool.reference_answer(scorer text, output jsonb, output_text text)
    RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$
SELECT CASE
           -- read as the scorer reads the output it judges: as JSON
           WHEN scorer = 'json_field_equals'
           THEN CASE WHEN jsonb_typeof(output) IN ('object', 'array') THEN output
                     ELSE evaltool.try_jsonb(output_text) END
           -- compared as JSON (and as text), as an expected object, number or boolean is
           WHEN scorer = 'exact_match' AND jsonb_typeof(output) IN ('object', 'number', 'boolean')
           THEN output
           -- its text, as one answer: never a list of acceptable ones, as an expected array is
           ELSE to_jsonb(coalesce(output_text, evaltool.json_text(output)))
       END
$$;
COMMENT ON FUNCTION evaltool.reference_answer(text, jsonb, text) IS
    'A reference run''s response (output, output_text) as the expected answer SCORER compares with: for json_field_equals its JSON (the output, or the text parsed; NULL where it is not JSON), for exact_match a JSON object, number or boolean output as it is, else its text as one JSON string (an array output is one answer, not a list of acceptable ones).';

-- The parameter reference was added (0011): CREATE OR REPLACE cannot change the argument
-- list, and the older function would make every call with four arguments ambiguous. Calls
-- written for it (an older evaltool during an upgrade) reach the new one.
DROP FUNCTION IF EXISTS evaltool.score_run(bigint, text, text, text);

CREATE OR REPLACE FUNCTION evaltool.score_run(run_id bigint, scorer text, arg text DEFAULT NULL,
                                              metric text DEFAULT NULL,
                                              reference bigint DEFAULT NULL)
    RETURNS bigint
    LANGUAGE plpgsql AS
$$
DECLARE
    s evaltool.scorer;
    written bigint;
    scoring_id bigint;
    run_dataset_id bigint;
    reference_model text;
    reference_dataset_id bigint;
    metric_name text;
BEGIN
    SELECT * INTO s FROM evaltool.scorer c WHERE c.name = score_run.scorer;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no scorer named %', quote_literal(scorer) USING ERRCODE = '22023',
            HINT = 'built-in scorers: '
                   || (SELECT string_agg(c.name, ', ' ORDER BY c.name) FROM evaltool.scorer c);
    END IF;
    IF arg IS NULL AND s.arg_required THEN
        RAISE EXCEPTION 'scorer % needs an argument: %:%', scorer, scorer, s.arg
            USING ERRCODE = '22023';
    END IF;
    IF arg IS NOT NULL AND (s.arg IS NULL OR arg !~ s.arg_pattern) THEN
        RAISE EXCEPTION 'scorer % does not take the argument %', scorer, quote_literal(arg)
            USING ERRCODE = '22023',
                  DETAIL = coalesce('it takes ' || s.arg || ': ' || s.description, 'it takes none');
    END IF;
    IF scorer = 'regex' AND arg IS NOT NULL THEN
        BEGIN
            PERFORM '' ~ arg;
        EXCEPTION WHEN invalid_regular_expression THEN
            RAISE EXCEPTION 'scorer regex: invalid regular expression %', quote_literal(arg)
                USING ERRCODE = '22023';
        END;
    END IF;
    IF s.extension IS NOT NULL
       AND NOT EXISTS (SELECT FROM pg_extension WHERE extname = s.extension) THEN
        RAISE EXCEPTION 'scorer % needs the PostgreSQL extension %, which this server does not have',
            scorer, s.extension USING ERRCODE = '0A000',
            HINT = 'install PostgreSQL''s contrib package, then run evaltool db migrate';
    END IF;
    SELECT r.dataset_id INTO run_dataset_id FROM evaltool.run r WHERE r.id = score_run.run_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no run %', run_id USING ERRCODE = '22023';
    END IF;
    IF reference IS NOT NULL THEN
        IF NOT s.compares_expected THEN
            RAISE EXCEPTION 'scorer % does not compare the output with an expected answer: '
                            'it cannot score against a reference run', scorer
                USING ERRCODE = '22023',
                HINT = 'scorers that can: ' || (SELECT string_agg(c.name, ', ' ORDER BY c.name)
                                                FROM evaltool.scorer c WHERE c.compares_expected);
        END IF;
        SELECT m.name, r.dataset_id INTO reference_model, reference_dataset_id
        FROM evaltool.run r JOIN evaltool.model m ON m.id = r.model_id
        WHERE r.id = score_run.reference;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'no reference run %', reference USING ERRCODE = '22023';
        END IF;
        IF reference_dataset_id <> run_dataset_id THEN
            RAISE EXCEPTION 'reference run % is over dataset %, run % over dataset %: '
                            'a reference run must answer the same test cases',
                reference, (SELECT d.name || ':' || d.version FROM evaltool.dataset d
                            WHERE d.id = reference_dataset_id),
                run_id, (SELECT d.name || ':' || d.version FROM evaltool.dataset d
                         WHERE d.id = run_dataset_id)
                USING ERRCODE = '22023';
        END IF;
    END IF;
    -- SCORER[:ARG], and against a reference @MODEL, the reference run's model: so that runs
    -- scored against the same model compare under one metric
    metric_name := coalesce(metric, scorer || coalesce(':' || arg, '')
                                    || coalesce('@' || reference_model, ''));

    -- A new pass: the run's current scores of the metric move to score_history, so the
    -- INSERT below is a plain one (ON CONFLICT's speculative insertion makes a million-row
    -- write about a quarter slower).
    scoring_id := evaltool.begin_scoring(run_id, metric_name, 'sql:' || scorer, s.version, arg);
    -- Rows go in the order of their response ids, as the join would scramble them: then the
    -- index entries and foreign-key checks of consecutive rows share pages (measured at a
    -- million rows: a fifth faster, the sort included).
    IF reference IS NULL THEN
        EXECUTE format(
            $q$INSERT INTO evaltool.score (run_id, response_id, metric, value, passed, details,
                                            scorer, scorer_version, scoring_id)
               SELECT r.run_id, r.id, $2, s.value, s.passed, s.details, $3, $4, $6
               FROM evaltool.response r
               JOIN evaltool.prompt p ON p.id = r.prompt_id
               CROSS JOIN LATERAL evaltool.%I(r.status = 'ok', r.output, r.output_text, p.expected,
                                              r.latency_ms, r.cost_usd, $5) s
               WHERE r.run_id = $1
               ORDER BY r.id$q$,
            'scorer_' || scorer)
        USING run_id, metric_name, 'sql:' || scorer, s.version, arg, scoring_id;
        GET DIAGNOSTICS written = ROW_COUNT;
    ELSE
        UPDATE evaltool.scoring g SET reference_run_id = reference WHERE g.id = scoring_id;
        -- Each response against the reference's response to the same sample of the test
        -- case, or to its sample 1 where it has no such sample (a reference run without
        -- repeats); no score where that response is missing or an error.
        EXECUTE format(
            $q$INSERT INTO evaltool.score (run_id, response_id, metric, value, passed, details,
                                            scorer, scorer_version, scoring_id)
               SELECT r.run_id, r.id, $2, s.value, s.passed, s.details, $3, $4, $6
               FROM evaltool.response r
               JOIN LATERAL (SELECT e.status, e.output, e.output_text
                             FROM evaltool.response e
                             WHERE e.run_id = $7 AND e.prompt_id = r.prompt_id
                               AND e.sample IN (r.sample, 1)
                             ORDER BY e.sample = r.sample DESC
                             LIMIT 1) e ON e.status = 'ok'
               CROSS JOIN LATERAL evaltool.%I(r.status = 'ok', r.output, r.output_text,
                                              evaltool.reference_answer($8, e.output, e.output_text),
                                              r.latency_ms, r.cost_usd, $5) s
               WHERE r.run_id = $1
               ORDER BY r.id$q$,
            'scorer_' || scorer)
        USING run_id, metric_name, 'sql:' || scorer, s.version, arg, scoring_id, reference, scorer;
        GET DIAGNOSTICS written = ROW_COUNT;
    END IF;
    PERFORM evaltool.finish_scoring(scoring_id, written);
    RETURN written;
END
$$;

COMMENT ON FUNCTION evaltool.score_run(bigint, text, text, text, bigint) IS
    'Scores every response of a run with the built-in SQL scorer evaltool.scorer_SCORER and ARG, in one INSERT ... SELECT, as one scoring (see evaltool.scoring); re-scoring replaces the scores, and the earlier ones are kept in score_history. The metric is named METRIC, by default SCORER[:ARG]. With REFERENCE, a run over the same dataset, a scorer that compares with the expected answer (scorer.compares_expected) compares with the reference run''s output for the same test case instead (the same sample, else its sample 1; no score where it has no answer), recorded in scoring.reference_run_id; the metric is by default SCORER[:ARG]@MODEL, MODEL being the reference run''s. Returns the number of scores written (responses the scorer cannot judge get none).';
