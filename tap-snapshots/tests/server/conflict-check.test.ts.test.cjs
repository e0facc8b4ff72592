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
  null,
  "91350100M000100Y43",
  "北京华信科技有限公司",
  "北京华信科技",
  Array [],
  "北京华信科技",
  "北京华信科技",
  30,
]
`

exports[`tests/server/conflict-check.test.ts > TAP > the search query is kept as a reviewed SQL snapshot > search SQL 1`] = `
select id, matter_id, party_id, relation, name, case when id_number = $1 or uscc = $2 then 'exact_id' when name = $3 then 'exact_name' when name_norm = $4 then 'normalized' else 'pinyin' end as match, 1.0::float8 as sim from conflict_index where id_number = $5 or uscc = $6 or name = $7 or name_norm = $8 or pinyin = any($9::text[]) union all (select id, matter_id, party_id, relation, name, 'fuzzy' as match, similarity(name_norm, $10)::float8 as sim from conflict_index where name_norm % $11 order by sim desc limit $12)
`
