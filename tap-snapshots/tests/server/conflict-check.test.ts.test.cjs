/* IMPORTANT
 * This snapshot file is auto-generated, but designed for humans.
 * It should be checked into source control and tracked carefully.
 * Re-generate by setting TAP_SNAPSHOT=1 and running tests.
 * Make sure to inspect the output below.  Do not ignore changes!
 */
'use strict'
exports[`tests/server/conflict-check.test.ts > TAP > the search query is kept as a reviewed SQL snapshot > its parameters: normalised name, pinyin keys, identifiers 1`] = `
Array [
  null,
  "91350100M000100Y43",
  "北京华信科技有限公司",
  "北京华信科技",
  Array [
    "=华信科技",
  ],
  Array [],
  0.8333333333333334,
  null,
  "91350100M000100Y43",
  "北京华信科技有限公司",
  "北京华信科技",
  Array [],
  Array [
    "?京华信科技",
    "北?华信科技",
    "北京?信科技",
    "北京华?科技",
    "北京华信?技",
    "北京华信科?",
    "=华信科技",
  ],
  "北京华信科技",
  "北京华信科技",
  30,
]
`

exports[`tests/server/conflict-check.test.ts > TAP > the search query is kept as a reviewed SQL snapshot > search SQL 1`] = `
select id, matter_id, party_id, relation, name, id_number, case when id_number = $1 or uscc = $2 then 'exact_id' when name = $3 then 'exact_name' when name_norm = $4 or name_keys && $5::text[] then 'normalized' when pinyin = any($6::text[]) then 'pinyin' else 'fuzzy' end as match, $7::float8 as sim from conflict_index where id_number = $8 or uscc = $9 or name = $10 or name_norm = $11 or pinyin = any($12::text[]) or name_keys && $13::text[] union all (select id, matter_id, party_id, relation, name, id_number, 'fuzzy' as match, similarity(name_norm, $14)::float8 as sim from conflict_index where name_norm % $15 order by sim desc limit $16)
`
