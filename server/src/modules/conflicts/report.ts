import { shanghaiDateTime } from '../../calendar.js';
import type { ServiceContext } from '../../context.js';
import type { ConflictCheck } from './service.js';

const MATCH_LABELS: Record<string, string> = {
  exact_id: '证件号/统一社会信用代码一致',
  exact_name: '名称完全一致',
  normalized: '规范化名称一致',
  fuzzy: '名称相似',
  pinyin: '拼音一致',
  related: '关联方（法定代表人/股东）',
};
const ROLE_LABELS: Record<string, string> = { client: '委托人', opposing: '对方当事人', third_party: '第三人', related: '关联方' };
const STATUS_LABELS: Record<string, string> = { pending_review: '待审查', clear: '无冲突', conflict: '存在冲突', waived: '经委托人同意豁免' };

const escapeHtml = (value: unknown): string =>
  String(value ?? '').replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);

const beijingTime = (iso: string | null): string => (iso ? shanghaiDateTime(new Date(iso)) : '—');

/**
 * The check as a self-contained page to print and file: no script, no external resource. It names
 * the report hash, so a paper copy can be compared with the stored record.
 */
export async function conflictReportHtml(ctx: ServiceContext, check: ConflictCheck): Promise<string> {
  const firm = await ctx.db.selectFrom('settings').select('value').where('key', '=', 'firm').executeTakeFirst();
  const firmName = (firm?.value as { name?: string } | undefined)?.name ?? '';
  const users = await ctx.db
    .selectFrom('users')
    .select(['id', 'display_name'])
    .where('id', 'in', [check.created_by, check.decided_by ?? check.created_by])
    .execute();
  const nameOf = (id: number | null) => (id === null ? '系统自动' : (users.find((u) => u.id === id)?.display_name ?? `#${id}`));
  const queryRows = check.query
    .map((p, i) => {
      const party = p as { name: string; role?: string; id_number?: string | null; uscc?: string | null; legal_representative?: string | null; shareholders?: { name: string }[] };
      const related = [party.legal_representative ? `法定代表人：${party.legal_representative}` : '', party.shareholders?.length ? `股东：${party.shareholders.map((s) => s.name).join('、')}` : '']
        .filter(Boolean)
        .join('；');
      return `<tr><td>${i + 1}</td><td>${escapeHtml(party.name)}</td><td>${escapeHtml(ROLE_LABELS[party.role ?? ''] ?? '—')}</td><td>${escapeHtml(party.uscc ?? (party.id_number ? '已提供证件号' : '—'))}</td><td>${escapeHtml(related || '—')}</td></tr>`;
    })
    .join('');
  const hitRows = check.hits.length
    ? check.hits
        .map(
          (h) =>
            `<tr><td>${escapeHtml(h.query_name)}</td><td>${h.redacted ? '（无权查看，已隐去）' : escapeHtml(h.matter_number)}</td><td>${escapeHtml(h.party_name)}</td><td>${escapeHtml(ROLE_LABELS[h.party_role] ?? h.party_role)}</td><td>${h.redacted ? '—' : escapeHtml(h.responsible_lawyer)}</td><td>${escapeHtml(h.matter_status)}</td><td>${escapeHtml(MATCH_LABELS[h.match] ?? h.match)}</td><td>${h.score.toFixed(2)}</td></tr>`,
        )
        .join('')
    : '<tr><td colspan="8">未发现可能的利益冲突 / No hits</td></tr>';
  const consent = check.consent
    ? `<p>委托人同意：${escapeHtml(check.consent.given_by)}，${escapeHtml(check.consent.given_on)}，方式 ${escapeHtml(check.consent.method)}，凭证 ${escapeHtml(check.consent.reference)}</p>`
    : '';
  return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>利益冲突检索报告 #${check.id}</title>
<style>body{font-family:"WenQuanYi Micro Hei","Noto Sans CJK SC",sans-serif;margin:2em;color:#111}table{border-collapse:collapse;width:100%;margin:1em 0}th,td{border:1px solid #999;padding:4px 6px;text-align:left;font-size:13px}h1{font-size:20px}.meta td:first-child{width:10em;background:#f3f3f3}@media print{body{margin:0}}</style>
</head><body>
<h1>${escapeHtml(firmName)} 利益冲突检索报告<br><small>Conflict-of-interest check report</small></h1>
<table class="meta">
<tr><td>检索编号</td><td>${check.id}</td></tr>
<tr><td>检索时间</td><td>${escapeHtml(beijingTime(check.created_at))}</td></tr>
<tr><td>检索人</td><td>${escapeHtml(nameOf(check.created_by))}</td></tr>
<tr><td>用途</td><td>${escapeHtml({ intake: '收案审查', ad_hoc: '临时检索', new_party: '追加当事人' }[check.purpose] ?? check.purpose)}</td></tr>
<tr><td>结论</td><td>${escapeHtml(STATUS_LABELS[check.status] ?? check.status)}</td></tr>
<tr><td>审查人</td><td>${check.decided_at ? escapeHtml(nameOf(check.decided_by)) : '—'}</td></tr>
<tr><td>审查时间</td><td>${escapeHtml(beijingTime(check.decided_at))}</td></tr>
<tr><td>审查意见</td><td>${escapeHtml(check.decision_note ?? '—')}</td></tr>
<tr><td>报告校验值 (SM3)</td><td><code>${escapeHtml(check.report_hash)}</code></td></tr>
</table>
${consent}
<h2>检索对象 / Parties checked</h2>
<table><tr><th>#</th><th>名称</th><th>身份</th><th>证件</th><th>关联人</th></tr>${queryRows}</table>
<h2>命中结果 / Hits（${check.hit_count}）</h2>
${check.redacted_count ? `<p>其中 ${check.redacted_count} 项涉及您无权查看的案件，详情已隐去，已提交审查人处理。</p>` : ''}
<table><tr><th>检索名称</th><th>案号</th><th>命中当事人</th><th>在该案身份</th><th>承办律师</th><th>案件状态</th><th>匹配方式</th><th>相似度</th></tr>${hitRows}</table>
</body></html>`;
}
