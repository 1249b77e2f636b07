/**
 * Onboarding as steps: 1 the hub, 2 site access, 3 the wallet (new or imported) and its password,
 * 4 for a new wallet the recovery phrase and the three-word check. Each step keeps what was typed
 * when the person goes Back. Nothing is saved until the last step: then `onFinish` encrypts the
 * wallet, stores it and signs in. A new wallet is made once and kept across Back, so the phrase
 * written down stays the wallet's; choosing "import" drops it.
 */
import { useState } from 'preact/hooks';
import { t } from '../common/i18n.js';
import { type AnyWallet, newWallet } from '../common/wallet.js';
import { type AccessChoice, AccessStep } from './AccessStep.js';
import { HubStep } from './HubStep.js';
import { PhraseStep } from './PhraseStep.js';
import type { StepName } from './Step.js';
import { type WalletMode, WalletStep } from './WalletStep.js';

const CREATE_STEPS: readonly StepName[] = ['hub', 'access', 'wallet', 'phrase'];
const IMPORT_STEPS: readonly StepName[] = ['hub', 'access', 'wallet'];

export function Setup(props: {
  initialHub: string;
  busy: boolean;
  onFinish: (hubUrl: string, wallet: AnyWallet, password: string) => void;
}) {
  const [step, setStep] = useState<StepName>('hub');
  const [hubUrl, setHubUrl] = useState(props.initialHub);
  const [access, setAccess] = useState<AccessChoice>({ mode: 'all', sites: '' });
  const [mode, setMode] = useState<WalletMode>('create');
  const [password, setPassword] = useState('');
  const [created, setCreated] = useState<AnyWallet | null>(null);
  const steps = mode === 'create' ? CREATE_STEPS : IMPORT_STEPS;

  switch (step) {
    case 'hub':
      return (
        <HubStep
          steps={steps}
          initial={hubUrl}
          onNext={(url) => {
            setHubUrl(url);
            setStep('access');
          }}
        />
      );
    case 'access':
      return (
        <AccessStep
          steps={steps}
          initial={access}
          onBack={(choice) => {
            setAccess(choice);
            setStep('hub');
          }}
          onNext={(choice) => {
            setAccess(choice);
            setStep('wallet');
          }}
        />
      );
    case 'wallet':
      return (
        <WalletStep
          steps={steps}
          initialMode={mode}
          initialPassword={password}
          busy={props.busy}
          onModeChange={setMode}
          onBack={() => setStep('access')}
          onNext={(choice) => {
            setPassword(choice.password);
            if (choice.imported) {
              setCreated(null);
              return props.onFinish(hubUrl, choice.imported, choice.password);
            }
            if (!created) setCreated(newWallet());
            setStep('phrase');
          }}
        />
      );
    case 'phrase': {
      const phrase = created && 'mnemonic' in created ? created.mnemonic?.phrase : undefined;
      if (!created || !phrase) return <p role="alert">{t('onboarding_phrase_missing')}</p>;
      return (
        <PhraseStep
          steps={steps}
          phrase={phrase}
          busy={props.busy}
          onBack={() => setStep('wallet')}
          onConfirmed={() => props.onFinish(hubUrl, created, password)}
        />
      );
    }
  }
}
