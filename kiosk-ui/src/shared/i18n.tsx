import { createContext, type ComponentChildren } from 'preact';
import { useCallback, useContext, useEffect, useState } from 'preact/hooks';

export type Lang = 'zh' | 'en';
const STORAGE_KEY = 'lawbox.kiosk.lang';

function storedLang(): Lang {
  try {
    return localStorage.getItem(STORAGE_KEY) === 'en' ? 'en' : 'zh';
  } catch {
    return 'zh';
  }
}

/** A dictionary pair: the English one must have exactly the Chinese one's keys. */
export interface Strings<K extends string> {
  zh: Record<K, string>;
  en: Record<K, string>;
}
export const strings = <K extends string>(zh: Record<K, string>, en: Record<K, string>): Strings<K> => ({ zh, en });

/** `{name}` placeholders are replaced by vars. */
export type Translate<K extends string> = (key: K, vars?: Record<string, string | number>) => string;

function translate<K extends string>(dict: Record<K, string>, key: K, vars?: Record<string, string | number>): string {
  const text = dict[key];
  return vars ? text.replace(/\{(\w+)\}/g, (m, v: string) => (v in vars ? String(vars[v]) : m)) : text;
}

interface LangState {
  lang: Lang;
  setLang(lang: Lang): void;
}
const LangContext = createContext<LangState>({ lang: 'zh', setLang: () => {} });

export function LangProvider({ children }: { children: ComponentChildren }) {
  const [lang, setLangState] = useState<Lang>(storedLang);
  useEffect(() => {
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  }, [lang]);
  const setLang = useCallback((next: Lang) => {
    try {
      localStorage.setItem(STORAGE_KEY, next);
    } catch {
      // A locked-down kiosk profile may refuse storage: the choice then lasts until the page reloads.
    }
    setLangState(next);
  }, []);
  return <LangContext.Provider value={{ lang, setLang }}>{children}</LangContext.Provider>;
}

export const useLang = () => useContext(LangContext);

export function useT<K extends string>(s: Strings<K>): Translate<K> {
  const { lang } = useLang();
  return (key, vars) => translate(s[lang], key, vars);
}

/** Server messages are "English. / 中文。": the half in the screen's language. */
export function localMessage(message: string, lang: Lang): string {
  const i = message.lastIndexOf(' / ');
  if (i < 0) return message;
  return lang === 'zh' ? message.slice(i + 3) : message.slice(0, i);
}

/** The strings every app shares. */
export const common = strings(
  {
    langToggle: 'English',
    loading: '正在加载…',
    connecting: '正在连接服务器…',
    serverUnreachable: '暂时无法连接服务器，正在自动重试…',
    retryNow: '立即重试',
    retry: '重试',
    enrolTitle: '此终端尚未登记',
    enrolLead: '这台设备需要先由系统管理员登记，才能作为「{kind}」使用。',
    enrolStep1: '请联系系统管理员，在管理后台「设备管理 → 终端」中为本终端生成登记码。',
    enrolStep2: '在下方输入 8 位登记码，然后点击「登记」。',
    enrolStep3: '登记只需一次；之后本终端会自动连接。',
    enrolCode: '登记码',
    enrolSubmit: '登记',
    enrolBusy: '正在登记…',
    enrolCodeHint: '8 位字母或数字，不区分大小写',
    enrolled: '登记成功',
    wrongTitle: '终端类型不符',
    wrongBody: '本终端「{name}」登记为「{actual}」，不能作为「{expected}」使用。',
    wrongAction: '打开「{actual}」页面',
    wrongHelp: '如需更改用途，请联系系统管理员重新登记。',
    errorTitle: '页面出现错误',
    errorBody: '很抱歉，终端界面遇到了问题。请点击下方按钮重新加载；如果问题持续出现，请联系系统管理员。',
    errorReload: '重新加载',
    staleOffline: '网络已断开，数据可能不是最新',
    staleOld: '数据长时间未更新，可能不是最新',
    lastUpdated: '最后更新 {time}',
    online: '已连接',
    offline: '未连接',
    kind_lobby: '前台访客登记',
    kind_meeting: '无纸化会议终端',
    kind_wall: '数据大屏',
  },
  {
    langToggle: '中文',
    loading: 'Loading…',
    connecting: 'Connecting to the server…',
    serverUnreachable: 'The server cannot be reached right now; retrying automatically…',
    retryNow: 'Retry now',
    retry: 'Retry',
    enrolTitle: 'This screen is not enrolled',
    enrolLead: 'The system administrator must enrol this device before it can be used as the {kind}.',
    enrolStep1: 'Ask the system administrator for an enrolment code (Devices → Kiosks in the admin console).',
    enrolStep2: 'Type the 8-character code below and tap “Enrol”.',
    enrolStep3: 'Enrolment is needed once; afterwards the screen connects by itself.',
    enrolCode: 'Enrolment code',
    enrolSubmit: 'Enrol',
    enrolBusy: 'Enrolling…',
    enrolCodeHint: '8 letters or digits, any case',
    enrolled: 'Enrolled',
    wrongTitle: 'Wrong kind of screen',
    wrongBody: 'This screen (“{name}”) is enrolled as the {actual}; it cannot be used as the {expected}.',
    wrongAction: 'Open the {actual}',
    wrongHelp: 'To change its use, ask the system administrator to enrol it again.',
    errorTitle: 'Something went wrong',
    errorBody: 'Sorry, the screen ran into a problem. Tap the button below to reload; if it keeps happening, contact the system administrator.',
    errorReload: 'Reload',
    staleOffline: 'Network disconnected; the data may be out of date',
    staleOld: 'No update for a while; the data may be out of date',
    lastUpdated: 'last updated {time}',
    online: 'Online',
    offline: 'Offline',
    kind_lobby: 'lobby check-in kiosk',
    kind_meeting: 'meeting terminal',
    kind_wall: 'wall dashboard',
  },
);

export function LangToggle() {
  const { lang, setLang } = useLang();
  const t = useT(common);
  return (
    <button type="button" class="lang-toggle" data-testid="lang-toggle" onClick={() => setLang(lang === 'zh' ? 'en' : 'zh')}>
      {t('langToggle')}
    </button>
  );
}
